"""URLs of the REST API, its OpenAPI schema and its docs, under /api/v1/."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import views, webhook_views

app_name = "api"

router = DefaultRouter()
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("plans", views.PlanViewSet, basename="plan")
router.register("runs", views.RunViewSet, basename="run")
router.register("approvals", views.ApprovalViewSet, basename="approval")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("webhooks", webhook_views.WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves its script as a file, so a strict Content-Security-Policy holds.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
    # A script asking for a path that does not exist reads JSON, like every other answer here;
    # exempt from CSRF as the API's views are (a token is no cookie), so a write reads it too.
    re_path(
        r"^.*$", csrf_exempt(lambda request: JsonResponse({"detail": "Not found."}, status=404))
    ),
]
