"""The IONOS driver through the official ionoscloud SDK against the fake IONOS Cloud API v6."""

import uuid

import pytest
import yaml
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from provisioning.drivers import ionos
from provisioning.drivers.ionos import IonosApi, IonosTenantUser
from provisioning.errors import StepFailed, TransientError

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: cluster-admin
  cluster:
    server: https://k8s.example.ionos.com:443
    certificate-authority-data: ""
contexts:
- name: cluster-admin@mks
  context: {cluster: cluster-admin, user: cluster-admin}
current-context: cluster-admin@mks
users:
- name: cluster-admin
  user: {token: cluster-token}
"""


def api() -> IonosApi:
    return IonosApi.from_settings()


def tenant_user(slug: str = "") -> IonosTenantUser:
    slug = slug or f"t{uuid.uuid4().hex[:8]}"
    return IonosTenantUser(api(), f"wp-tenant-{slug}@tenants.example.com", slug)


# --- users and S3 keys ----------------------------------------------------------------------------


def test_tenant_user_is_plain_and_its_key_secret_shown_once(ionos_api):
    who = tenant_user("shop")
    assert not who.find()
    who.create()
    user = ionos_api.user_by_email("wp-tenant-shop@tenants.example.com")
    props = user["properties"]
    assert props["administrator"] is False and props["forceSecAuth"] is False
    # The default contract-owned bucket names it by contract number and user id.
    assert who.principal == f"arn:aws:iam:::user/31000000:{user['id']}"

    key_id, secret = who.key_create()
    assert ionos_api.s3keys[user["id"]][key_id]["secretKey"] == secret
    assert who.key_ids() == [key_id]
    # A later read of the key does not show the secret again (IONOS hands it out once).
    listed = api().s3keys.um_users_s3keys_find_by_key_id(user["id"], key_id)
    assert listed.properties.secret_key is None

    fresh = tenant_user("shop")
    assert fresh.find() and fresh.principal == who.principal


def test_lookup_pages_through_many_users(ionos_api):
    for i in range(230):
        ionos_api.handle(
            "POST",
            "/cloudapi/v6/um/users",
            {},
            {
                "properties": {
                    "firstname": "x",
                    "lastname": str(i),
                    "email": f"someone-{i}@example.com",
                    "password": "a-password",
                }
            },
        )
    found = api().user_by_email("Someone-229@example.com")
    assert found is not None and found.email == "someone-229@example.com"
    assert api().user_by_email("nobody@example.com") is None
    lists = [p for m, p in ionos_api.requests if m == "GET" and p.endswith("/um/users")]
    assert len(lists) >= 3 + 3  # three pages each time


def test_duplicate_user_fails_with_ionos_words_and_no_password(ionos_api):
    tenant_user("dup").create()
    with pytest.raises(StepFailed) as failed:
        tenant_user("dup").create()
    text = str(failed.value)
    assert "create user wp-tenant-dup@tenants.example.com" in text
    assert "already in use" in text
    stored_password = ionos_api.user_by_email("wp-tenant-dup@tenants.example.com")["password"]
    assert stored_password not in text


def test_delete_removes_keys_and_user_and_gone_counts_as_gone(ionos_api):
    who = tenant_user()
    who.create()
    who.key_create()
    user_id = who.user.id
    assert who.delete() is True
    assert user_id not in ionos_api.users and not ionos_api.s3keys.get(user_id)
    assert ("DELETE", f"/cloudapi/v6/um/users/{user_id}") in ionos_api.writes()
    assert tenant_user(who.slug).delete() is False


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_busy_or_broken_ionos_is_transient(ionos_api, status):
    ionos_api.fail_next("/cloudapi/v6/um/users", status)
    with pytest.raises(TransientError, match=f"answered {status}"):
        tenant_user().find()
    assert tenant_user().find() is False  # the next call goes through
    # The SDK did not retry on its own: the engine does the backing off.
    assert [p for m, p in ionos_api.requests if p.endswith("/um/users")] == [
        "/cloudapi/v6/um/users"
    ] * 2


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_refusals_fail_the_step_naming_the_object(ionos_api, status):
    who = tenant_user()
    who.create()
    ionos_api.fail_next(f"/cloudapi/v6/um/users/{who.user.id}/s3keys", status, method="POST")
    with pytest.raises(StepFailed) as failed:
        who.key_create()
    assert f"create an S3 key for user {who.user.id}" in str(failed.value)
    assert f"Injected failure {status}" in str(failed.value)


def test_wrong_token_names_the_setting_not_the_token(ionos_api, settings):
    settings.PORTAL_IONOS_TOKEN = "wrong-token-value"
    with pytest.raises(StepFailed) as failed:
        tenant_user().find()
    assert "401" in str(failed.value) and "PORTAL_IONOS_TOKEN" in str(failed.value)
    assert "wrong-token-value" not in str(failed.value)


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
def test_timeouts_and_refused_connections_are_transient(ionos_api, settings):
    settings.PORTAL_IONOS_TIMEOUT = 0.5
    ionos_api.fail_next("/cloudapi/v6/um/users", 0, delay=1.5)
    with pytest.raises(TransientError, match="could not be reached"):
        tenant_user().find()
    settings.PORTAL_IONOS_API_URL = "http://127.0.0.1:1/cloudapi/v6"
    with pytest.raises(TransientError, match="could not be reached"):
        tenant_user().find()


# --- the cluster's kubeconfig ---------------------------------------------------------------------


def kubeconfig_gets(fake, cluster_id: str) -> int:
    return fake.requests.count(("GET", f"/cloudapi/v6/k8s/{cluster_id}/kubeconfig"))


def test_kubeconfig_is_fetched_once_and_kept(ionos_api, settings):
    cluster_id = ionos_api.add_cluster(KUBECONFIG)
    assert ionos.kubeconfig_for_cluster(cluster_id) == KUBECONFIG
    assert ionos.kubeconfig(cluster_id) == yaml.safe_load(KUBECONFIG)
    assert kubeconfig_gets(ionos_api, cluster_id) == 1

    configuration = kube_client.Configuration()
    kube_config.load_kube_config_from_dict(
        ionos.kubeconfig(cluster_id), client_configuration=configuration
    )
    assert configuration.host == "https://k8s.example.ionos.com:443"
    assert kubeconfig_gets(ionos_api, cluster_id) == 1

    settings.PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS = 0  # expired: asked again
    ionos.kubeconfig_for_cluster(cluster_id)
    assert kubeconfig_gets(ionos_api, cluster_id) == 2
    settings.PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS = 900
    ionos.kubeconfig_forget(cluster_id)
    ionos.kubeconfig_for_cluster(cluster_id)
    ionos.kubeconfig_for_cluster(cluster_id)
    assert kubeconfig_gets(ionos_api, cluster_id) == 3


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
def test_kubeconfig_errors(ionos_api, settings):
    with pytest.raises(StepFailed, match="PORTAL_IONOS_CLUSTER_ID"):
        ionos.kubeconfig_for_cluster("no-such-cluster")
    cluster_id = ionos_api.add_cluster(KUBECONFIG)
    ionos_api.fail_next(f"/cloudapi/v6/k8s/{cluster_id}/kubeconfig", 503)
    with pytest.raises(TransientError):
        ionos.kubeconfig_for_cluster(cluster_id)
    assert ionos.kubeconfig_for_cluster(cluster_id) == KUBECONFIG  # a failure is not kept
    settings.PORTAL_IONOS_TOKEN = ""
    ionos.kubeconfig_forget()
    with pytest.raises(StepFailed, match="PORTAL_IONOS_TOKEN"):
        ionos.kubeconfig_for_cluster(cluster_id)


def test_kubernetes_driver_reaches_the_cluster_by_id(ionos_api, kube_api, settings):
    """The Kubernetes driver, given only a token and a cluster id, talks to that cluster."""
    from provisioning.drivers import kubernetes

    cluster_id = ionos_api.add_cluster(kube_api.kubeconfig_path.read_text())
    settings.PORTAL_KUBECONFIG = ""
    settings.PORTAL_KUBE_IN_CLUSTER = False
    settings.PORTAL_IONOS_CLUSTER_ID = cluster_id
    api = kubernetes.api_client()
    namespace = kube_client.CoreV1Api(api).read_namespace("kube-system")
    assert namespace.metadata.name == "kube-system"
    assert kubeconfig_gets(ionos_api, cluster_id) == 1


def test_a_rotated_cluster_token_is_picked_up_after_the_cluster_says_401(
    ionos_api, kube_api, settings
):
    from kubernetes.client.exceptions import ApiException

    from provisioning.drivers import kubernetes

    original = kube_api.kubeconfig_path.read_text()
    cluster_id = ionos_api.add_cluster(original)
    settings.PORTAL_KUBECONFIG = ""
    settings.PORTAL_KUBE_IN_CLUSTER = False
    settings.PORTAL_IONOS_CLUSTER_ID = cluster_id
    before = kubernetes.api_client()

    # IONOS rotates the cluster's credentials; the cluster refuses the old token.
    ionos_api.kubeconfigs[cluster_id] = original.replace("fake-token", "rotated-token")
    error = kubernetes.translate(ApiException(status=401, reason="Unauthorized"), "Namespace x")
    assert isinstance(error, TransientError)  # retried, with the new kubeconfig

    after = kubernetes.api_client()
    assert after is not before
    assert after.configuration.api_key["BearerToken"] == "Bearer rotated-token"
    assert kubeconfig_gets(ionos_api, cluster_id) == 2
