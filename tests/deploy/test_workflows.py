"""The CI/CD workflows: the README's test command, images built and scanned, manifests and
Terraform checked, one deploy job per environment, and the deploy scripts they call."""

import json
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


def test_ci_keeps_the_browser_tests_screenshots_as_an_artifact():
    script = (REPO / "scripts" / "test.sh").read_text()
    default = re.search(
        r'PORTAL_SCREENSHOT_DIR="\$\{PORTAL_SCREENSHOT_DIR:-\$PWD/([^}"]+)\}"', script
    )
    assert default and re.search(r"^export PORTAL_SCREENSHOT_DIR=", script, re.M), "test.sh sets it"
    folder = default[1].rstrip("/")
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", f"{folder}/a.png"])
    assert ignored.returncode == 0, f"{folder} is not git-ignored"
    readme = (REPO / "README.md").read_text()
    assert "PORTAL_SCREENSHOT_DIR" in readme and f"`{folder}/`" in readme

    job = steps("ci", "test")
    test = next(i for i, s in enumerate(job) if "./scripts/test.sh" in s.get("run", "").split())
    upload = next(
        i for i, s in enumerate(job) if s.get("uses", "").startswith("actions/upload-artifact@")
    )
    assert upload > test, "uploaded after the tests ran"
    step = job[upload]
    # A failed run's screenshots are the ones wanted most.
    assert step.get("if") in ("${{ !cancelled() }}", "${{ always() }}", "always()"), step
    assert step["with"]["path"].rstrip("/") == folder
    assert step["with"]["if-no-files-found"] == "error", "no screenshots is a broken setting"


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


def scanned_before_pushed(job: dict) -> None:
    names = [step.get("name", step.get("uses", "")) for step in job["steps"]]
    scan, push = names.index("Scan (trivy)"), names.index("Push")
    assert scan < push
    scan_step = job["steps"][scan]["run"]
    assert "--exit-code 1" in scan_step and "CRITICAL" in scan_step


def test_both_images_are_built_and_scanned_before_they_are_pushed():
    jobs = workflow("images")["jobs"]
    images = {
        item["name"]: item["dockerfile"] for item in jobs["build"]["strategy"]["matrix"]["include"]
    }
    assert images == {"tenant-portal": "deploy/portal/Dockerfile"}
    assert (REPO / images["tenant-portal"]).is_file()
    build = next(s for s in jobs["tenant-wordpress"]["steps"] if s.get("name") == "Build")
    assert build["with"]["file"] == "deploy/wordpress/Dockerfile"
    assert (REPO / build["with"]["file"]).is_file()
    for job in ["build", "tenant-wordpress"]:
        scanned_before_pushed(jobs[job])
    assert re.search(r"trivy:\d+\.\d+\.\d+", workflow("images")["env"]["TRIVY_IMAGE"])


def _with_matrix(script: str, matrix: dict) -> str:
    """A step's script as the runner gets it: the ${{ matrix.x }} expressions put in."""
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: matrix[m[1]], script)


@pytest.mark.parametrize("present", [True, False])
def test_a_missing_dockerfile_fails_the_image_job(tmp_path, present):
    job = workflow("images")["jobs"]["build"]
    (item,) = job["strategy"]["matrix"]["include"]
    names = [s.get("name") or s.get("id") or s["uses"] for s in job["steps"]]
    check = job["steps"][names.index("Dockerfile")]
    assert names.index("Dockerfile") < names.index("Build")
    # Nothing in the job may be skipped for want of the file: only pushing waits for a push.
    for step in job["steps"]:
        assert step.get("if", "github.event_name == 'push'") == "github.event_name == 'push'"
    if present:
        dockerfile = tmp_path / item["dockerfile"]
        dockerfile.parent.mkdir(parents=True)
        dockerfile.write_text("FROM scratch\n")
    result = subprocess.run(
        ["bash", "-e", "-c", _with_matrix(check["run"], item)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    if present:
        assert result.returncode == 0, result.stdout
    else:
        assert result.returncode == 1
        assert f"::error file={item['dockerfile']}::" in result.stdout
        assert "tenant-portal: no Dockerfile at deploy/portal/Dockerfile" in result.stdout


def offered_by_the_script() -> list[str]:
    result = subprocess.run(
        ["python3", str(REPO / "scripts" / "wordpress-versions.py")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # no Django, no venv: as in the workflow's job
        check=True,
    )
    return json.loads(result.stdout)


def test_the_tenant_image_matrix_is_the_portals_offered_versions():
    from django.conf import settings

    jobs = workflow("images")["jobs"]
    # The matrix is whatever the versions job prints, and that job runs the script.
    assert "python3 scripts/wordpress-versions.py" in runs("images", "versions")
    assert jobs["versions"]["outputs"]["wordpress"] == "${{ steps.list.outputs.wordpress }}"
    assert jobs["tenant-wordpress"]["needs"] == "versions"
    matrix = jobs["tenant-wordpress"]["strategy"]["matrix"]
    assert matrix == {"wordpress": "${{ fromJSON(needs.versions.outputs.wordpress) }}"}
    offered = offered_by_the_script()
    assert offered == settings.PORTAL_WORDPRESS_VERSIONS and offered
    example = re.search(
        r"^# PORTAL_WORDPRESS_VERSIONS=(.*)$", (REPO / ".env.example").read_text(), re.M
    )
    assert example[1].split(",") == offered
    # No environment offers versions CI does not build.
    for env in ["ionos", "staging", "production"]:
        for m in render(REPO / "deploy" / "portal" / "overlays" / env):
            if m["kind"] == "ConfigMap" and "PORTAL_WORDPRESS_VERSIONS" in m.get("data", {}):
                assert m["data"]["PORTAL_WORDPRESS_VERSIONS"].split(",") == offered, env


def test_each_tenant_image_is_tagged_its_version_and_version_commit():
    job = workflow("images")["jobs"]["tenant-wordpress"]
    build = next(s for s in job["steps"] if s.get("name") == "Build")
    assert build["with"]["build-args"] == "WORDPRESS_VERSION=${{ matrix.wordpress }}"
    tag = next(s for s in job["steps"] if s.get("id") == "tag")["run"]
    assert "pinned=${{ matrix.wordpress }}-${GITHUB_SHA::12}" in tag
    assert build["with"]["tags"].splitlines() == [
        "${{ env.IMAGE }}:${{ matrix.wordpress }}",
        "${{ env.IMAGE }}:${{ steps.tag.outputs.pinned }}",
    ]
    push = next(s for s in job["steps"] if s.get("name") == "Push")["run"]
    assert '"$IMAGE:${{ steps.tag.outputs.pinned }}"' in push
    assert '"$IMAGE:${{ matrix.wordpress }}"' in push


def portal_config(folder) -> dict:
    return next(
        m
        for m in render(folder)
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "portal-config"
    )["data"]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_gitops_environments_pin_the_tenant_image_to_a_commit(environment):
    image = portal_config(REPO / "deploy" / "portal" / "overlays" / environment)
    assert re.fullmatch(
        r"registry\.example\.com/platform/tenant-wordpress:\{version\}-[0-9a-f]{12}",
        image["PORTAL_WORDPRESS_IMAGE"],
    )


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_a_deploy_job_per_environment(environment):
    job = workflow("deploy")["jobs"][environment]
    assert job["environment"]["name"] == environment
    text = "\n".join(step.get("run", "") for step in job["steps"])
    assert f"./scripts/deploy-tag.sh {environment}" in text
    assert re.search(rf'deploy-tag\.sh {environment} "[^"]+" "\$SHA"', text), "the commit too"
    assert "head_sha" in str(job["steps"])
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
        [
            str(copy_of_the_repo / "scripts" / "deploy-tag.sh"),
            "staging",
            "sha-0123456789ab",
            "0123456789abcdef0123456789abcdef01234567",
        ],
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
    portal = "registry.example.com/platform/tenant-portal:"
    ours = {env: {i for i in found if i.startswith(portal)} for env, found in images.items()}
    assert ours["staging"] == {f"{portal}sha-0123456789ab"}
    assert ours["production"] == {f"{portal}0.1.0"}
    # Other workloads' images (the maintenance page's nginx) are pinned apart and stay put.
    others = {env: found - ours[env] for env, found in images.items()}
    assert others["staging"] == others["production"]
    assert all(":" in image for image in others["staging"])
    overlays = copy_of_the_repo / "deploy" / "portal" / "overlays"
    assert portal_config(overlays / "staging")["PORTAL_WORDPRESS_IMAGE"].endswith(
        "tenant-wordpress:{version}-0123456789ab"
    )
    assert portal_config(overlays / "production") == portal_config(
        REPO / "deploy" / "portal" / "overlays" / "production"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "1.0"], "unknown environment 'nowhere'"),
        (["../../../deploy/portal/overlays/staging", "1.0"], "unknown environment '../"),
        (["staging/../staging", "1.0"], "unknown environment"),
        (["ionos", "1.0"], "deploy-tag.sh moves staging or production"),
        (["staging", "bad tag;rm"], "not an image tag"),
        (["staging", "1.0", "HEAD;rm"], "not a commit"),
    ],
)
def test_deploy_tag_refuses_an_unknown_environment_or_a_bad_tag(copy_of_the_repo, args, message):
    script = copy_of_the_repo / "scripts" / "deploy-tag.sh"
    overlay = copy_of_the_repo / "deploy" / "portal" / "overlays" / "staging" / "kustomization.yaml"
    before = overlay.read_text()
    result = subprocess.run([str(script), *args], capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr
    assert overlay.read_text() == before, "a refused call changes nothing"


@pytest.fixture
def loopback_server(tmp_path):
    """A static HTTP server on loopback: /readyz answers 200, anything else 404."""
    import http.server
    from functools import partial

    from tests.fakes.loopback import LoopbackServer

    (tmp_path / "readyz").write_text("ok")
    server = LoopbackServer()
    server.listen(partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)))
    with server:
        yield server.url


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
