"""The CI/CD workflows: the README's test command, images built and scanned, manifests and
Terraform checked, one deploy job per environment, and the deploy scripts they call."""

import re
import subprocess
from functools import cache

import pytest
import yaml

from tests.deploy.render import REPO, render

WORKFLOWS = REPO / ".github" / "workflows"


@cache
def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())


def steps(name: str, job: str) -> list[dict]:
    return workflow(name)["jobs"][job]["steps"]


def runs(name: str, job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(name, job))


def test_every_workflow_parses_and_pins_its_actions():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.stem for f in files} >= {"ci", "images", "deploy"}
    for path in files:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v?\d[\w.]*", step["uses"]), step["uses"]


def test_ci_runs_the_readmes_test_command():
    readme = (REPO / "README.md").read_text()
    command = "./scripts/test.sh"
    assert command in readme
    assert command in runs("ci", "test").split()
    # With CI=true the Terraform test must find terraform; the job installs it.
    assert any(
        s.get("uses", "").startswith("hashicorp/setup-terraform@") for s in steps("ci", "test")
    )


def test_ci_renders_every_overlay_and_validates_them():
    text = runs("ci", "manifests")
    assert "kubectl kustomize" in text and "deploy/portal/overlays/*" in text
    for test in ["test_portal_overlays.py", "test_platform_manifests.py"]:
        assert test in text
        assert (REPO / "tests" / "deploy" / test).is_file()


def test_ci_checks_the_terraform_roots_format_and_statically():
    job = workflow("ci")["jobs"]["terraform"]
    assert set(job["strategy"]["matrix"]["root"]) == {"infrastructure", "platform"}
    text = runs("ci", "terraform")
    for command in ["terraform fmt -check", "terraform validate", "tflint"]:
        assert command in text
    assert "-backend=false" in text, "validate must need no state and no credentials"
    assert (REPO / "deploy" / "terraform" / ".tflint.hcl").is_file()


def test_both_images_are_built_and_scanned_before_they_are_pushed():
    job = workflow("images")["jobs"]["build"]
    images = {item["name"]: item["dockerfile"] for item in job["strategy"]["matrix"]["include"]}
    assert images == {
        "tenant-portal": "deploy/portal/Dockerfile",
        "tenant-wordpress": "deploy/wordpress/Dockerfile",
    }
    assert (REPO / images["tenant-portal"]).is_file()
    names = [step.get("name", step.get("uses", "")) for step in job["steps"]]
    scan, push = names.index("Scan (trivy)"), names.index("Push")
    assert scan < push
    scan_step = job["steps"][scan]["run"]
    assert "--exit-code 1" in scan_step and "CRITICAL" in scan_step
    assert re.search(r"trivy:\d+\.\d+\.\d+", workflow("images")["env"]["TRIVY_IMAGE"])


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_a_deploy_job_per_environment(environment):
    job = workflow("deploy")["jobs"][environment]
    assert job["environment"]["name"] == environment
    text = "\n".join(step.get("run", "") for step in job["steps"])
    assert f"./scripts/deploy-tag.sh {environment}" in text
    assert "deploy-wait.sh" in text


@pytest.fixture
def copy_of_the_repo(tmp_path):
    """The scripts and overlays in a scratch tree, so the tag moves there, not here."""
    (tmp_path / "deploy").mkdir()
    subprocess.run(["cp", "-r", str(REPO / "scripts"), str(tmp_path)], check=True)
    subprocess.run(["cp", "-r", str(REPO / "deploy" / "portal"), str(tmp_path / "deploy")],
                   check=True)  # fmt: skip
    return tmp_path


def test_deploy_tag_moves_only_that_environments_image(copy_of_the_repo):
    result = subprocess.run(
        [str(copy_of_the_repo / "scripts" / "deploy-tag.sh"), "staging", "sha-0123456789ab"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    images = {
        env: {
            c["image"]
            for m in render(copy_of_the_repo / "deploy" / "portal" / "overlays" / env)
            if m["kind"] == "Deployment"
            for c in m["spec"]["template"]["spec"]["containers"]
        }
        for env in ["staging", "production"]
    }
    assert images["staging"] == {"registry.example.com/platform/tenant-portal:sha-0123456789ab"}
    assert images["production"] == {"registry.example.com/platform/tenant-portal:0.1.0"}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nowhere", "1.0"], "no overlay"), (["staging", "bad tag;rm"], "not an image tag")],
)
def test_deploy_tag_refuses_an_unknown_environment_or_a_bad_tag(copy_of_the_repo, args, message):
    script = copy_of_the_repo / "scripts" / "deploy-tag.sh"
    result = subprocess.run([str(script), *args], capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr


@pytest.fixture
def loopback_server(tmp_path):
    """A static HTTP server on loopback: /readyz answers 200, anything else 404."""
    import http.server
    import threading
    from functools import partial

    (tmp_path / "readyz").write_text("ok")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "code"), [("/readyz", 0), ("/missing", 1)])
def test_deploy_wait_ends_on_200_and_gives_up_otherwise(loopback_server, path, code):
    result = subprocess.run(
        [str(REPO / "scripts" / "deploy-wait.sh"), loopback_server + path],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DEPLOY_WAIT_TRIES": "2", "DEPLOY_WAIT_SECONDS": "0"},
        timeout=60,
    )
    assert result.returncode == code, result.stdout + result.stderr
