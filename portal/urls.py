"""The portal's URL map."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from portal import health, metrics, profile
from portal.adminfilters import protect_all
from portal.auth.admin_login import AdminLoginForm
from tenants import hooks

admin.site.site_header = "Tenant portal administration"
admin.site.site_title = "Tenant portal admin"
# With Authentik configured, only superusers may use the admin's own password form.
admin.site.login_form = AdminLoginForm
# Every change list drops filter values the database would refuse instead of answering 500.
protect_all(admin.site)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tenants:list", permanent=False), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("tenants/", include("tenants.urls")),
    path("hooks/pipeline/", hooks.pipeline_confirmation, name="pipeline-hook"),
    path("api/v1/", include("api.urls")),
    path("profile/", profile.profile, name="profile"),
    path("profile/tokens/", include("api.page_urls")),
]

handler400 = "portal.errorpages.bad_request"
handler403 = "portal.errorpages.forbidden"
handler404 = "portal.errorpages.not_found"
handler500 = "portal.errorpages.server_error"
