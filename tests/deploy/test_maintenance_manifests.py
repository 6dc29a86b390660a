"""The maintenance server suspended tenants' hosts are sent to: in every overlay, reachable under
PORTAL_MAINTENANCE_HOST by the ingress controller, answering every path with the page and 503."""

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.deploy.render import REPO, render, validate_every
from tests.deploy.test_image_pins import unpinned

OVERLAYS = REPO / "deploy" / "portal" / "overlays"


def _of(manifests: list[dict], kind: str, name: str) -> dict:
    [found] = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module", params=["ionos", "staging", "production"])
def built(request) -> list[dict]:
    return render(OVERLAYS / request.param)


def test_the_maintenance_host_names_a_service_of_the_overlay_on_the_port_tenants_use(built):
    validate_every(built)
    # The tenants' ExternalName Services name <service>.<namespace>.svc.cluster.local, port 80
    # (provisioning/manifests/wordpress.py).
    service_name, namespace = settings.PORTAL_MAINTENANCE_HOST.split(".")[:2]
    service = _of(built, "Service", service_name)
    assert service["metadata"]["namespace"] == namespace
    [port] = service["spec"]["ports"]
    assert port["port"] == 80

    deployment = _of(built, "Deployment", "maintenance")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["replicas"] >= 2
    [container] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["targetPort"] in ports
    assert unpinned(container["image"]) is None
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])

    # The page and the server's configuration are the ConfigMap's keys it mounts.
    page = _of(built, "ConfigMap", "maintenance-page")["data"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]]
        if "configMap" in source:
            assert source["configMap"]["name"] == "maintenance-page"
            assert mount["subPath"] in page
    conf = page["default.conf"]
    assert re.search(rf"listen {ports['http']} default_server;", conf)
    assert "server_name _;" in conf  # whichever tenant's host the ingress forwards
    assert re.search(r"location / \{\s*return 503;", conf)
    assert "error_page 503 /index.html;" in conf and "Retry-After" in conf
    assert "<title>This site is suspended</title>" in page["index.html"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert "location = /healthz" in conf


def test_only_the_ingress_controller_reaches_the_maintenance_pods(built):
    policy = _of(built, "NetworkPolicy", "maintenance-from-ingress")
    labels = _of(built, "Deployment", "maintenance")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": settings.PORTAL_INGRESS_NAMESPACE
    }
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


NGINX = Path("/usr/sbin/nginx")  # scripts/services.sh installs Debian's nginx


@pytest.fixture
def maintenance_server(tmp_path):
    """nginx on a free loopback port with the overlay's own server block and page."""
    if not NGINX.exists():
        message = "nginx is missing: scripts/services.sh installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    page = _of(render(OVERLAYS / "ionos"), "ConfigMap", "maintenance-page")["data"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text(page["index.html"])
    server = page["default.conf"].replace("listen 8080 ", f"listen 127.0.0.1:{port} ")
    server = server.replace("/usr/share/nginx/html/maintenance", str(html))
    (tmp_path / "default.conf").write_text(server)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, the workers would be nobody's, who can't read this test's folder.
    user = "user root;\n" if os.getuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; {temp}\n"
        f"include {tmp_path / 'default.conf'}; }}\n"
    )
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _get(url: str, host: str):
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read().decode()


def test_the_server_answers_every_tenant_host_and_path_with_the_page_and_503(maintenance_server):
    for host, path in [("shop.example.com", "/"), ("blog.example.org", "/wp-admin/?x=1")]:
        status, headers, body = _get(maintenance_server + path, host)
        assert status == 503, (host, path)
        assert headers["Retry-After"] == "3600" and headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"].startswith("text/html")
        assert "<h1>This site is suspended</h1>" in body
    status, _, body = _get(maintenance_server + "/healthz", "10.0.0.1:8080")
    assert (status, body) == (200, "ok\n")
