"""Actions on a tenant's run and site: retry, reconcile, suspend, resume, pipeline, upgrade."""

from django.contrib import messages

from tenants import pipeline, services, suspension, upgrade
from tenants.views.base import _TenantActionView


class TenantRetryView(_TenantActionView):
    def act(self, request, tenant):
        services.tenant_retry(tenant=tenant, actor=request.user)
        messages.success(request, "A new run was started; it skips what is already in place.")


class TenantReconcileView(_TenantActionView):
    def act(self, request, tenant):
        services.tenant_reconcile(tenant=tenant, actor=request.user)
        messages.success(request, "Reconcile started.")


class TenantSuspendView(_TenantActionView):
    def act(self, request, tenant):
        suspension.tenant_suspend(
            tenant=tenant, actor=request.user, reason=request.POST.get("reason", "")[:1000]
        )
        messages.success(request, f"{tenant.slug} is being suspended; its host shows a notice.")


class TenantResumeView(_TenantActionView):
    def act(self, request, tenant):
        suspension.tenant_resume(tenant=tenant, actor=request.user)
        messages.success(request, f"{tenant.slug} is being resumed.")


class TenantPipelineView(_TenantActionView):
    def act(self, request, tenant):
        on = request.POST.get("on") == "1"
        pipeline.tenant_pipeline_switch(tenant=tenant, actor=request.user, on=on)
        messages.success(
            request, f"The content pipeline is being switched {'on' if on else 'off'}."
        )


class TenantUpgradeView(_TenantActionView):
    def act(self, request, tenant):
        version = request.POST.get("version", "")[:20]
        upgrade.tenant_upgrade(tenant=tenant, actor=request.user, version=version)
        messages.success(
            request,
            f"{tenant.slug} is being upgraded to WordPress {version}; if the new version doesn't "
            "start, the old one comes back.",
        )
