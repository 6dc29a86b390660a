"""After a change of the tenant image (a new plugins.lock, a new image tag), beat's init
container's `tenant_reconcile --outdated` builds every tenant from the new one, once."""

import io

import pytest
from django.core.management import call_command

from provisioning import tenantimage
from provisioning.models import Run
from provisioning.runs import run_request
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled

pytestmark = pytest.mark.django_db
CURRENT = "Every tenant is built from the current tenant image.\n"


@pytest.fixture
def lock(tmp_path, settings):
    """A copy of plugins.lock the test may change, as a new commit would."""
    path = tmp_path / "plugins.lock"
    with open(settings.PORTAL_PLUGINS_LOCK) as original:
        path.write_text(original.read())
    settings.PORTAL_PLUGINS_LOCK = str(path)
    return path


def _settle(tenants, kube) -> None:
    for tenant in tenants:
        reconcile_until_settled(tenant, kube)
        tenant.refresh_from_db()
        assert tenant.state == Tenant.State.READY, tenant.last_error


@pytest.fixture
def built(kube_cluster, django_capture_on_commit_callbacks):
    """Two tenants the engine built on the fake cluster."""
    tenants = [TenantFactory(slug=s, state=Tenant.State.APPROVED) for s in ("shop", "blog")]
    with django_capture_on_commit_callbacks():  # the test drives the engine itself
        for tenant in tenants:
            run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    _settle(tenants, kube_cluster)
    return tenants


def _outdated(capture) -> str:
    out = io.StringIO()
    with capture():
        call_command("tenant_reconcile", "--outdated", stdout=out)
    return out.getvalue()


def test_a_changed_plugins_lock_rebuilds_every_tenant_once(
    lock, built, kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    before = tenantimage.fingerprint()
    assert {r.image_fingerprint for r in Run.objects.all()} == {before}
    assert _outdated(capture) == CURRENT and Run.objects.count() == 2

    lock.write_text(lock.read_text().replace("mcp-adapter 0.5.0", "mcp-adapter 0.6.0"))

    assert _outdated(capture).splitlines() == [
        f"{tenant.slug}: reconcile queued (built from another image)" for tenant in built
    ]
    for tenant in built:
        tenant.refresh_from_db()
        assert tenant.state == Tenant.State.READY  # a serving tenant stays serving meanwhile
        queued = tenant.runs.order_by("-id").first()
        assert (queued.reason, queued.status) == ("image", Run.Status.PENDING)
    _settle(built, kube_cluster)
    after = tenantimage.fingerprint()
    assert after != before
    for tenant in built:
        assert tenant.runs.order_by("-id").first().image_fingerprint == after
    assert not AuditEvent.objects.filter(
        action=AuditEvent.Action.TENANT_PROVISIONING, message__contains="(image)"
    ).exists()
    assert _outdated(capture) == CURRENT and Run.objects.count() == 4


def test_a_new_image_tag_reaches_the_tenants_pods(
    lock, built, kube_cluster, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_WORDPRESS_IMAGE = "registry.example.com/tenant-wordpress:{version}-abcdef123456"

    _outdated(django_capture_on_commit_callbacks)
    _settle(built, kube_cluster)

    for tenant in built:
        pod = kube_cluster.get("Deployment", "wordpress", tenant.namespace)["spec"]["template"]
        images = {c["image"] for c in pod["spec"]["containers"]}
        assert "registry.example.com/tenant-wordpress:6.8-abcdef123456" in images


def test_a_tenant_with_a_run_open_is_left_to_that_run(
    lock, built, django_capture_on_commit_callbacks
):
    shop, blog = built
    lock.write_text(lock.read_text() + "\n# a new pin\n")
    with django_capture_on_commit_callbacks():
        run_request(tenant=shop, action=Run.Action.APPLY, reason="manual")

    assert _outdated(django_capture_on_commit_callbacks).splitlines() == [
        "blog: reconcile queued (built from another image)"
    ]
    assert shop.runs.filter(reason="image").count() == 0


def test_the_command_takes_one_target(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Name one tenant, or pass --all or --outdated."):
        call_command("tenant_reconcile", "--all", "--outdated")
