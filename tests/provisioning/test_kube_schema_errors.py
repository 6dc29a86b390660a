"""A manifest the cluster's schema refuses fails the step once, naming the field; never retried."""

import pytest

from provisioning.drivers.kubernetes import make_driver
from provisioning.errors import StepFailed, TransientError

NS = "wp-schema"


@pytest.fixture
def kube(kube_cluster):
    driver = make_driver()
    driver.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    driver.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "site", "namespace": NS},
            "automountServiceAccountToken": False,
        }
    )
    kube_cluster.requests.clear()
    return driver


def _calls(fake, method: str) -> int:
    return sum(1 for m, path in fake.requests if m == method and f"/namespaces/{NS}/" in path)


def test_an_unknown_field_in_a_merge_patch_is_refused_because_the_driver_asks_strict(
    kube, kube_cluster
):
    # Without fieldValidation=Strict the API server drops the field with a warning and the
    # tenant silently lacks what the portal meant to set; with it, the answer is 400.
    with pytest.raises(StepFailed) as failed:
        kube.merge_patch(
            "v1", "ServiceAccount", "site", NS, {"automountToken": True}, manager="portal"
        )
    message = str(failed.value)
    assert "doesn't fit the cluster's schema at automountToken" in message and "400" in message
    assert not isinstance(failed.value, TransientError)
    assert _calls(kube_cluster, "PATCH") == 1
    assert kube_cluster.get("ServiceAccount", "site", NS)["automountServiceAccountToken"] is False


def test_an_unknown_field_in_an_apply_is_a_schema_error_not_a_server_error(kube, kube_cluster):
    manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "site", "namespace": NS},
        "automountToken": True,
    }
    with pytest.raises(StepFailed) as failed:
        kube.apply(manifest)
    assert not isinstance(failed.value, TransientError)  # the 500 doesn't go away by retrying
    assert "doesn't fit the cluster's schema at .automountToken" in str(failed.value)
    assert _calls(kube_cluster, "PATCH") == 1


def test_a_value_the_schema_refuses_names_the_field(kube, kube_cluster):
    manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "Bad_Name", "namespace": NS},
    }
    with pytest.raises(StepFailed) as failed:
        kube.apply(manifest)
    assert not isinstance(failed.value, TransientError)
    assert "schema at metadata.name" in str(failed.value) and "422" in str(failed.value)
    assert _calls(kube_cluster, "PATCH") == 1
