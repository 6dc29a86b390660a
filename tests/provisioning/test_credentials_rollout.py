"""A changed credential restarts the tenant's WordPress: its fingerprint is in the pod template."""

import pytest

from provisioning import secrets as keys
from provisioning.drivers.kubernetes import KubernetesSecrets
from provisioning.manifests.wordpress import CREDENTIALS_ANNOTATION
from provisioning.spec import spec_for
from provisioning.steps.base import Outcome
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.wordpress import WordPressStep
from tests.factories import TenantFactory
from tests.provisioning.test_kubernetes import NS, Run

pytestmark = pytest.mark.django_db


def template(fake) -> dict:
    return fake.get("Deployment", "wordpress", NS)["spec"]["template"]


@pytest.fixture
def provisioned(kube_cluster):
    run = Run(spec_for(TenantFactory(slug="shop")), kube_cluster)
    assert run.step(NamespaceStep).apply().status == Outcome.DONE  # creates the Secret
    run.store.put(
        {
            keys.DB_PASSWORD: "db-password-1",
            keys.S3_ACCESS_KEY_ID: "AKIA-FIRST",
            keys.S3_SECRET_ACCESS_KEY: "s3-secret-1",
            keys.OIDC_CLIENT_ID: "client-1",
            keys.OIDC_CLIENT_SECRET: "oidc-secret-1",
        }
    )
    run.provision()
    return run


@pytest.mark.parametrize(
    "changed",
    [
        {keys.S3_ACCESS_KEY_ID: "AKIA-SECOND", keys.S3_SECRET_ACCESS_KEY: "s3-secret-2"},
        {keys.DB_PASSWORD: "db-password-2"},
        {keys.OIDC_CLIENT_SECRET: "oidc-secret-2"},
    ],
    ids=["storage-key-replaced", "database-password-reset", "oidc-secret-changed"],
)
def test_a_credential_change_changes_the_pod_template(provisioned, kube_cluster, changed):
    before = template(kube_cluster)
    generation = kube_cluster.get("Deployment", "wordpress", NS)["metadata"]["generation"]
    # Another step (storage, database, sso) writes the new value in a later run.
    KubernetesSecrets(provisioned.spec).put(changed)

    wordpress = Run(provisioned.spec, kube_cluster).step(WordPressStep)
    assert any("Deployment wordpress" in d for d in wordpress.check())
    assert wordpress.apply().status == Outcome.WAITING  # the new pods roll out

    after = template(kube_cluster)
    deployment = kube_cluster.get("Deployment", "wordpress", NS)
    assert deployment["metadata"]["generation"] == generation + 1
    old = before["metadata"]["annotations"][CREDENTIALS_ANNOTATION]
    new = after["metadata"]["annotations"][CREDENTIALS_ANNOTATION]
    assert new != old
    # The fingerprint tells nothing: no value is in it, nor anywhere in the pod template.
    for value in changed.values():
        assert value not in str(after)


def test_unchanged_credentials_change_nothing(provisioned, kube_cluster):
    before = kube_cluster.get("Deployment", "wordpress", NS)
    wordpress = Run(provisioned.spec, kube_cluster).step(WordPressStep)
    assert wordpress.check() == []
    after = kube_cluster.get("Deployment", "wordpress", NS)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_the_fingerprint_is_keyed_with_the_portal_secret(settings):
    store = keys.MemorySecrets({keys.DB_PASSWORD: "hunter2"})
    first = keys.fingerprint(store, [keys.DB_PASSWORD])
    settings.SECRET_KEY = "another-portal-key"
    # Whoever reads the Deployment can't test guesses of a password against it.
    assert keys.fingerprint(store, [keys.DB_PASSWORD]) != first
