"""WordPress upgrades on the (fake) cluster: the new image rolls out, or the old one comes back."""

import pytest

from provisioning.models import Run
from tenants import upgrade
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled

pytestmark = pytest.mark.django_db
NS = "wp-shop"


def _image(kube) -> str:
    deployment = kube.get("Deployment", "wordpress", NS)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def _ready_on(version, kube, capture) -> Tenant:
    tenant = TenantFactory(slug="shop", state=Tenant.State.APPROVED, wordpress_version=version)
    with capture():
        from provisioning.runs import run_request

        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    return tenant


def give_up_rollouts(kube) -> None:
    """The new pods never become ready: the Deployment controller gives up on the rollout."""
    with kube.lock:
        for obj in kube.objects.values():
            if obj["kind"] == "Deployment":
                obj["status"] = {
                    "observedGeneration": obj["metadata"]["generation"],
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": 'ReplicaSet "wordpress-7f" has timed out progressing.',
                        }
                    ],
                }


def test_an_upgrade_rolls_the_site_to_the_new_image(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_on("6.6", kube_cluster, capture)
    assert _image(kube_cluster).endswith(":6.6")
    with capture():
        upgrade.tenant_upgrade(tenant=tenant, actor=tenant.owner, version="6.8")
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and tenant.wordpress_version == "6.8"
    assert _image(kube_cluster).endswith(":6.8") and tenant.upgrade_note == ""
    # After the rollout, the schema of the new core: a Job on its image, its outcome logged.
    wordpress = tenant.runs.get(reason="upgrade").steps.get(name="wordpress")
    assert "wp core update-db for WordPress 6.8 started" in wordpress.log
    assert "wp core update-db done: the database has WordPress 6.8's schema" in wordpress.log
    assert wordpress.log.index("update-db") > wordpress.log.index("applied")
    images = {
        j["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]
        for j in kube_cluster.list("Job", NS)
        if j["metadata"]["name"].startswith("wordpress-update-db-")
    }
    assert images == {"6.6", "6.8"}


def test_a_failed_schema_update_rolls_the_upgrade_back(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_on("6.7", kube_cluster, capture)
    with capture():
        upgrade.tenant_upgrade(tenant=tenant, actor=tenant.owner, version="6.8")
    from provisioning import engine
    from provisioning.manifests.wordpress import update_db_job
    from provisioning.spec import spec_for

    tenant.refresh_from_db()
    name = update_db_job(spec_for(tenant))["metadata"]["name"]
    for _ in range(12):
        engine.reconcile(tenant.pk)
        if kube_cluster.get("Job", name, NS):
            break
        kube_cluster.mark_ready()
        Run.objects.filter(tenant=tenant).update(not_before=None)
    kube_cluster.fail_job(NS, name, "BackoffLimitExceeded", "Job has reached the backoff limit")
    Run.objects.filter(tenant=tenant).update(not_before=None)
    with capture():
        engine.reconcile(tenant.pk)
    tenant.refresh_from_db()
    assert tenant.wordpress_version == "6.7"
    assert "wp core update-db for WordPress 6.8 failed" in tenant.upgrade_note
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and _image(kube_cluster).endswith(":6.7")


def test_a_failed_upgrade_rolls_back_to_the_previous_image_and_says_so(
    kube_cluster, django_capture_on_commit_callbacks, client
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_on("6.7", kube_cluster, capture)
    with capture():
        upgrade.tenant_upgrade(tenant=tenant, actor=tenant.owner, version="6.8")
    from provisioning import engine

    assert engine.reconcile(tenant.pk) is not None  # the rollout is under way
    give_up_rollouts(kube_cluster)
    Run.objects.filter(tenant=tenant).update(not_before=None)
    with capture():
        engine.reconcile(tenant.pk)
    tenant.refresh_from_db()
    assert tenant.wordpress_version == "6.7" and tenant.upgrade_from == ""
    assert "upgrade to WordPress 6.8 failed and was rolled back to 6.7" in tenant.upgrade_note
    assert "timed out progressing" in tenant.upgrade_note
    assert tenant.runs.filter(reason="rollback").exists()

    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert _image(kube_cluster).endswith(":6.7")
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_UPGRADE_ROLLED_BACK)
    assert event.before == {"wordpress_version": "6.8"}
    client.force_login(tenant.owner)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="upgrade-note"' in page and "rolled back to 6.7" in page
