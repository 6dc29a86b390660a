"""deploy/: every container image the platform runs is pinned (no :latest, :main, or no tag)."""

import re

import pytest
import yaml

from tests.deploy.render import REPO, render

DEPLOY = REPO / "deploy"
# What Flux applies (deploy/platform/clusters points at these) and the portal as CI deploys it.
ROOTS = [
    *(f"platform/{layer}" for layer in ("namespaces", "sources", "controllers", "configs", "apps")),
    "monitoring",
    *(f"portal/overlays/{name}" for name in ("staging", "production", "ionos")),
]
MOVING = {"latest", "main", "master", "edge", "nightly", "dev", "stable"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# A tag naming a commit of a project's branch: moved by the project's CI like a branch's name.
COMMIT_TAG = re.compile(r"^(git|sha)-[0-9a-f]{7,40}$")


def pod_images(manifest: dict) -> list[str]:
    spec = manifest.get("spec") or {}
    if manifest["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if manifest["kind"] != "Pod" else spec
    containers = [*pod.get("initContainers", []), *pod.get("containers", [])]
    return [c["image"] for c in containers]


def unpinned(image: str) -> str | None:
    """Why the reference can change under the same manifest, or None when it can't."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if digest and not DIGEST.search(image):
        return "a malformed digest"
    if not tag and not digest:
        return "no tag"
    if tag in MOVING:
        return f"the moving tag :{tag}"
    if COMMIT_TAG.match(tag) and not digest:
        return f"a build tag (:{tag}) without its digest"
    return None


def every_image() -> dict[str, str]:
    """image -> where it is, for every container of every workload the roots render."""
    found = {}
    for root in ROOTS:
        for manifest in render(DEPLOY / root):
            for image in pod_images(manifest):
                found[image] = f"{root}: {manifest['kind']} {manifest['metadata']['name']}"
    return found


def chart_images() -> dict[str, str]:
    """image -> release, for every image a HelmRelease's values name with repository and tag
    (the others come from the chart's appVersion, pinned with the chart's version)."""
    found = {}

    def walk(node, release):
        if isinstance(node, dict):
            if isinstance(node.get("repository"), str) and "tag" in node:
                found[f"{node['repository']}:{node['tag']}"] = release
            for child in node.values():
                walk(child, release)
        elif isinstance(node, list):
            for child in node:
                walk(child, release)

    for root in ROOTS:
        for manifest in render(DEPLOY / root):
            if manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"].endswith("-values"):
                walk(yaml.safe_load(manifest["data"]["values.yaml"]), manifest["metadata"]["name"])
    return found


def test_every_image_a_charts_values_name_is_pinned():
    images = chart_images()
    assert "redis:7.4.6-alpine" in images  # the portal's broker: the official image
    problems = [f"{where}: {image} has {unpinned(image)}" for image, where in images.items()
                if unpinned(image)]  # fmt: skip
    assert problems == []


def test_no_image_is_unpinned():
    images = every_image()
    # The ones the platform runs itself: all here, so the loop below can't pass on nothing.
    names = {image.split("@")[0].rsplit(":", 1)[0] for image in images}
    assert {
        "ghcr.io/open-webui/open-webui",
        "ghcr.io/open-webui/pipelines",
    } <= names
    problems = [
        f"{where}: {image} has {unpinned(image)}"
        for image, where in images.items()
        if unpinned(image)
    ]
    assert problems == []


def test_the_pipeline_service_is_pinned_by_tag_and_digest():
    (image,) = [i for i in every_image() if "/pipelines" in i]
    # The project publishes no releases: a build tag, and the digest that build pushed.
    assert COMMIT_TAG.match(image.split("@")[0].rsplit(":", 1)[1])
    assert DIGEST.search(image)


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("ghcr.io/open-webui/pipelines:main", "the moving tag :main"),
        ("docker.io/library/redis", "no tag"),
        ("redis:latest", "the moving tag :latest"),
        ("ghcr.io/x/pipelines:git-039f9c5", "a build tag (:git-039f9c5) without its digest"),
        ("ghcr.io/x/y@sha256:abc", "a malformed digest"),
        ("registry.local:5000/portal:0.1.0", None),
        ("ghcr.io/x/y:git-039f9c5@sha256:" + "0" * 64, None),
    ],
)
def test_what_counts_as_unpinned(image, why):
    assert unpinned(image) == why


def test_the_images_dockerfiles_build_from_are_versioned():
    for dockerfile in sorted(DEPLOY.glob("*/Dockerfile")):
        text = dockerfile.read_text()
        args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
        for base in re.findall(r"^FROM (\S+)", text, re.M):
            image = base
            for name, value in args.items():
                image = image.replace("${" + name + "}", value)
            assert unpinned(image) is None, f"{dockerfile.relative_to(REPO)}: {image}"
