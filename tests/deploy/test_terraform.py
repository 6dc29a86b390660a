"""The Terraform roots under deploy/terraform: they parse, pin, document, and hold no secret."""

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest
import yaml

from tests.deploy.settings import portal_setting_names

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "deploy" / "terraform"
ROOTS = ("infrastructure", "platform")
ENVIRONMENTS = ("staging", "production")
README = REPO / "deploy" / "README.md"

# Attribute names that carry a credential: their value must never be written as a literal.
SECRET_NAME = re.compile(r"(password|secret|token|access_key|private_key)", re.IGNORECASE)
# Credential shapes that must not appear anywhere in the files, whatever the attribute.
SECRET_TEXT = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # an AWS-style access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),  # a JWT (IONOS tokens are JWTs)
]


def unquote(value):
    """python-hcl2 keeps the quotes of string literals and block labels; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def is_literal(value) -> bool:
    return isinstance(value, str) and value.startswith('"') and "${" not in value


@cache
def parsed(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def tf_files(root: str) -> list[Path]:
    files = sorted((TERRAFORM / root).glob("*.tf"))
    assert files, f"deploy/terraform/{root} has no .tf files"
    return files


def blocks(root: str, kind: str) -> dict[str, dict]:
    """Every `kind "name" {...}` block of a root (variable, output), by name."""
    found = {}
    for path in tf_files(root):
        for block in parsed(path).get(kind, []):
            for name, body in block.items():
                found[unquote(name)] = body
    return found


def source(root: str) -> str:
    return "\n".join(path.read_text() for path in tf_files(root))


def every_file() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*") if p.suffix in {".tf", ".tfvars", ".tfbackend"})


def walk(node, path=()):
    """Every (path, attribute name, value) of a parsed file, nested blocks and maps included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("__"):
                continue
            name = unquote(key)
            yield path, name, value
            yield from walk(value, (*path, name))
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)


def test_every_file_parses():
    files = every_file()
    assert {p.suffix for p in files} == {".tf", ".tfvars", ".tfbackend"}
    for path in files:
        assert isinstance(parsed(path), dict), path


@pytest.mark.parametrize("root", ROOTS)
def test_the_ionos_provider_is_pinned_to_one_exact_version(root):
    (terraform,) = blocks_of_kind(root, "terraform")
    providers = {}
    for block in terraform["required_providers"]:
        providers.update({k: v for k, v in block.items() if not k.startswith("__")})
    assert unquote(providers["ionoscloud"]["source"]) == "ionos-cloud/ionoscloud"
    for name, spec in providers.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", unquote(spec["version"])), f"{name} is not pinned"


def blocks_of_kind(root: str, kind: str) -> list[dict]:
    return [block for path in tf_files(root) for block in parsed(path).get(kind, [])]


def test_both_roots_pin_the_same_ionos_provider():
    versions = set()
    for root in ROOTS:
        (terraform,) = blocks_of_kind(root, "terraform")
        versions |= {
            unquote(block["ionoscloud"]["version"]) for block in terraform["required_providers"]
        }
    assert len(versions) == 1, versions


@pytest.mark.parametrize("root", ROOTS)
def test_the_state_is_remote_and_the_backend_names_no_credential(root):
    (terraform,) = blocks_of_kind(root, "terraform")
    (backend,) = terraform["backend"]
    (config,) = (body for label, body in backend.items() if unquote(label) == "s3")
    assert config["use_lockfile"] is True
    assert not {"access_key", "secret_key", "token"} & set(config)


@pytest.mark.parametrize("root", ROOTS)
def test_every_variable_is_declared_used_and_described(root):
    variables = blocks(root, "variable")
    assert variables
    text = source(root)
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used - set(variables) == set(), "used but not declared"
    assert set(variables) - used == set(), "declared but never used"
    for name, body in variables.items():
        description = unquote(body.get("description", ""))
        assert len(description) > 10, f"variable {name} has no description"


@pytest.mark.parametrize("root", ROOTS)
def test_every_output_is_described(root):
    outputs = blocks(root, "output")
    assert outputs
    for name, body in outputs.items():
        assert len(unquote(body.get("description", ""))) > 10, f"output {name} has no description"


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_sets_every_required_variable_and_nothing_unknown(root, environment):
    variables = blocks(root, "variable")
    tfvars = TERRAFORM / "environments" / environment / f"{root}.tfvars"
    given = {k for k in parsed(tfvars) if not k.startswith("__")}
    assert given - set(variables) == set(), f"{tfvars.name} sets undeclared variables"
    required = {
        name
        for name, body in variables.items()
        if "default" not in body and body.get("sensitive") is not True
    }
    assert required - given == set(), f"{environment} lacks required {root} variables"


def test_sensitive_variables_have_no_default_and_come_from_the_environment():
    for root in ROOTS:
        for name, body in blocks(root, "variable").items():
            if body.get("sensitive") is True:
                assert "default" not in body, f"{name} is sensitive but has a default"
                for environment in ENVIRONMENTS:
                    tfvars = TERRAFORM / "environments" / environment / f"{root}.tfvars"
                    assert name not in parsed(tfvars), f"{name} is written in {tfvars}"


def test_no_credential_is_written_as_a_literal():
    for path in every_file():
        for where, name, value in walk(parsed(path)):
            if SECRET_NAME.search(name) and is_literal(value) and unquote(value):
                pytest.fail(f"{path.relative_to(REPO)}: {'.'.join(where)}.{name} is a literal")
        text = path.read_text()
        for pattern in SECRET_TEXT:
            assert not pattern.search(text), f"{path.relative_to(REPO)} holds a credential"


def test_the_secret_check_catches_a_literal_password(tmp_path):
    bad = tmp_path / "bad.tf"
    bad.write_text('resource "x" "y" {\n  credentials {\n    password = "hunter2"\n  }\n}\n')
    with bad.open() as handle:
        found = [
            name
            for _, name, value in walk(hcl2.load(handle))
            if SECRET_NAME.search(name) and is_literal(value)
        ]
    assert found == ["password"]


def test_outputs_that_carry_generated_secrets_are_sensitive():
    for root in ROOTS:
        for name, body in blocks(root, "output").items():
            value = str(body["value"])
            if re.search(r"random_password\.|secret_key|\.password\b|_secrets\b", value):
                assert body.get("sensitive") is True, f"output {name} leaks a secret"


@cache
def readme_outputs() -> set[tuple[str, str]]:
    return set(re.findall(r"`(infrastructure|platform)\.(\w+)", README.read_text()))


def test_every_output_the_readme_names_exists():
    named = readme_outputs()
    assert len(named) >= 5, "deploy/README.md names no Terraform outputs"
    for root, output in named:
        assert output in blocks(root, "output"), f"README names {root}.{output}: no such output"


def settings_map(output: str) -> set[str]:
    value = blocks("infrastructure", "output")[output]["value"]
    return {unquote(key) for key in value if not key.startswith("__")}


def test_every_setting_the_infrastructure_hands_the_portal_is_one_it_reads():
    known = portal_setting_names()
    for output in ("portal_config", "portal_secrets"):
        names = settings_map(output)
        assert names, output
        assert names - known == set(), f"{output} sets what the portal never reads"


def test_the_readme_maps_every_portal_setting_from_the_infrastructure():
    text = README.read_text()
    for output in ("portal_config", "portal_secrets"):
        for name in settings_map(output):
            assert f'`infrastructure.{output}["{name}"]`' in text, f"README lacks {name}"


def store_entry_keys(name: str) -> set[str]:
    """The keys the platform root writes into the secret store's entry `name`: its own and,
    merged in, the infrastructure's portal_secrets."""
    for path in tf_files("platform"):
        for resource in parsed(path).get("resource", []):
            body = resource.get('"kubernetes_secret"', {}).get(f'"{name}"')
            if body is None:
                continue
            data = body["data"]
            if isinstance(data, dict):
                return {unquote(key) for key in data if not key.startswith("__")}
            keys = set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", data))
            if "local.infra.portal_secrets" in data:
                keys |= settings_map("portal_secrets")
            return keys
    raise AssertionError(f"the platform root writes no secret {name!r}")


def keys_read_from(secret: str) -> set[str]:
    """Every key a manifest under deploy/ reads from that Secret by name (secretKeyRef, a
    ServiceMonitor's credentials, ...)."""
    found = set()

    def visit(node):
        if isinstance(node, dict):
            if node.get("name") == secret and isinstance(node.get("key"), str):
                found.add(node["key"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for path in sorted((REPO / "deploy").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            visit(document)
    return found


def test_the_store_holds_every_key_the_manifests_read_from_the_portals_secret():
    read = keys_read_from("portal-secrets")
    assert "PORTAL_METRICS_TOKEN" in read  # the ServiceMonitor's scrape token
    assert read - store_entry_keys("portal") == set()


def test_the_datacenter_and_every_located_resource_are_in_berlin():
    variables = blocks("infrastructure", "variable")
    assert unquote(variables["location"]["default"]) == "de/txl"
    text = source("infrastructure")
    assert "location = var.location" in re.sub(r"\s+", " ", text)


def terraform_binary() -> str | None:
    found = shutil.which("terraform")
    if not found and os.environ.get("CI") != "true":
        pytest.skip("terraform is not installed (CI runs this check)")
    assert found, "CI=true: terraform must be installed for the fmt check"
    return found


def test_terraform_fmt_finds_nothing_to_change():
    terraform = terraform_binary()
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_fmt_check_fails_on_a_misformatted_file(tmp_path):
    terraform = terraform_binary()
    (tmp_path / "bad.tf").write_text('variable "x" {\ndescription="unaligned"\n}\n')
    result = subprocess.run(
        [terraform, "fmt", "-check", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0
