"""The credentials the portal generates for a tenant live in its Secret and nowhere else: not in
any row of the portal database, any page, any log line, any e-mail or the plan files."""

import base64
import io
import logging
import uuid

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from provisioning import engine
from provisioning.drivers.kubernetes import KubeApi, api_client
from provisioning.models import Run
from provisioning.secrets import SECRET_NAME
from tenants import notifications
from tenants.models import AuditEvent, Backup, Tenant
from tenants.tasks import purge_tenant
from tests import services as svc
from tests.factories import plan
from tests.tenants.jobrunner import FilesJobRunner

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# What the Secret holds that is not a credential: these may be shown.
NOT_SECRET: set[str] = set()


@pytest.fixture
def real_platform(settings, kube_cluster, authentik_api, moto_url):
    svc.require("MariaDB", svc.MARIADB)
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    settings.PORTAL_MARIADB_USER_HOST = "%"
    settings.PORTAL_S3_ENDPOINT_URL = moto_url
    settings.PORTAL_S3_REGION = "eu-central-1"
    settings.PORTAL_S3_ACCESS_KEY_ID = "admin-key"
    settings.PORTAL_S3_SECRET_ACCESS_KEY = "admin-secret"
    settings.PORTAL_S3_BUCKET = f"media-{uuid.uuid4().hex[:10]}"
    return kube_cluster


@pytest.fixture
def every_log(caplog):
    """Everything logged at DEBUG, the portal's own loggers (which don't propagate) included."""
    caplog.set_level(logging.DEBUG)
    # An earlier logging.config call in the session may have disabled loggers: hear them all.
    known = [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    disabled = [lg for lg in known if lg.disabled]
    for logger in disabled:
        logger.disabled = False
    own = [logging.getLogger(name) for name in ("portal", "tenants", "provisioning")]
    saved = [(logger, logger.level) for logger in own]
    for logger in own:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(caplog.handler)
    yield caplog
    for logger, level in saved:
        logger.setLevel(level)
        logger.removeHandler(caplog.handler)
    for logger in disabled:
        logger.disabled = True


def settle(tenant: Tenant, kube, states: set[str], rounds: int = 40) -> None:
    for _ in range(rounds):
        delay = engine.reconcile(tenant.pk)
        tenant.refresh_from_db()
        if delay is None and tenant.state in states:
            return
        kube.mark_ready()  # the cluster's controllers roll out what was applied
        Run.objects.filter(tenant=tenant).update(not_before=None)  # time has passed
    raise AssertionError(f"{tenant.slug} stayed {tenant.state}: {tenant.last_error}")


def secret_values(kube, tenant: Tenant) -> dict[str, str]:
    data = kube.get("Secret", SECRET_NAME, tenant.namespace)["data"]
    values = {key: base64.b64decode(value).decode() for key, value in data.items()}
    return {k: v for k, v in values.items() if k not in NOT_SECRET}


def database_dump() -> str:
    """Every value of every row of every model, as text."""
    lines = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            lines.append(f"{model._meta.label}: {row!r}")
            lines.extend(str(value) for value in row)
    return "\n".join(lines)


def pages(client, tenant: Tenant, users) -> dict[str, str]:
    run_ids = list(tenant.runs.values_list("pk", flat=True))
    event_ids = list(
        AuditEvent.objects.filter(object_type="tenant", object_id=str(tenant.pk)).values_list(
            "pk", flat=True
        )
    )
    urls = [
        tenant.get_absolute_url(),
        reverse("tenants:progress", args=[tenant.pk]),
        reverse("tenants:list"),
        reverse("tenants:delete", args=[tenant.pk]),
        reverse("tenants:approval", args=[tenant.pk]),
        reverse("tenants:approvals"),
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_change", args=[tenant.pk]),
        reverse("admin:provisioning_run_changelist"),
        reverse("admin:tenants_auditevent_changelist"),
        *(reverse("admin:provisioning_run_change", args=[pk]) for pk in run_ids),
        *(reverse("admin:tenants_auditevent_change", args=[pk]) for pk in event_ids),
    ]
    seen = {}
    for user in users:
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            if response.status_code == 200:
                seen[f"{user.username} {url}"] = response.content.decode()
        export = client.post(
            reverse("admin:tenants_auditevent_changelist"),
            {"action": "export_csv", "_selected_action": event_ids},
        )
        if export.status_code == 200 and export.get("Content-Type") == "text/csv":
            seen[f"{user.username} audit CSV"] = b"".join(export.streaming_content).decode()
    return seen


def assert_nowhere(secrets: dict[str, str], places: dict[str, str]) -> None:
    leaks = [
        f"{key} in {where}"
        for key, value in secrets.items()
        for where, text in places.items()
        if value in text
    ]
    assert not leaks, leaks


def test_no_generated_credential_leaves_the_tenants_secret(
    client, requester, approver, auditor, real_platform, authentik_api, every_log, mailoutbox,
    settings, django_capture_on_commit_callbacks, tmp_path,
):  # fmt: skip
    kube = real_platform
    slug = f"sec-{uuid.uuid4().hex[:6]}"
    # The content pipeline on: its client secret and webhook key are generated too.
    pipeline_ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "content-pipeline"},
    }
    KubeApi(api_client()).apply(pipeline_ns)
    client.force_login(requester)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants:request"),
            {
                "slug": slug,
                "display_name": "Secret keeper",
                "plan": plan("small").pk,
                "wordpress_version": "6.8",
                "admin_email": "keeper@example.com",
                "content_pipeline": "on",
            },
        )
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug=slug)

    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tenants:approval", args=[tenant.pk]), {"decision": "approve"})
        settle(tenant, kube, {Tenant.State.READY, Tenant.State.FAILED})
    assert tenant.state == Tenant.State.READY, tenant.last_error
    first = secret_values(kube, tenant)
    assert len(first) >= 10, sorted(first)
    pipeline_keys = {
        "PIPELINE_CLIENT_SECRET",
        "PIPELINE_WEBHOOK_SECRET",
        "PIPELINE_REPORT_SECRET",
        "PIPELINE_APP_PASSWORD",
    }
    assert pipeline_keys <= set(first)

    # Someone changes the sign-in client's secret in Authentik: the drift is found and repaired.
    authentik_api.provider_named(f"wp-{slug}")["client_secret"] = "changed-by-hand-" + "x" * 40
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tenants:reconcile", args=[tenant.pk]))
        settle(tenant, kube, {Tenant.State.READY})
    repaired = tenant.runs.order_by("-id").first().steps.get(name="sso")
    assert "client secret" in repaired.log, repaired.log

    # An operator rotates the database password.
    out = io.StringIO()
    call_command("tenant_rotate_db_password", slug, stdout=out)
    secrets = {**first, **{f"{k} (rotated)": v for k, v in secret_values(kube, tenant).items()}}

    # The mails the pages and the engine queued, sent as the worker's task sends them.
    for kind in ("new_request", "decision", "ready"):
        notifications.NOTICES[kind](tenant.pk)
    places = {
        "the portal database": database_dump(),
        "the logs": every_log.text + "\n".join(r.getMessage() for r in every_log.records),
        "the command's output": out.getvalue(),
        **{f"mail {m.subject}": f"{m.subject}\n{m.body}" for m in mailoutbox},
        **pages(client, tenant, [approver, auditor, requester]),
    }
    plan_dir = settings.PORTAL_PLAN_DIR
    if plan_dir.exists():
        for path in plan_dir.rglob("*"):
            if path.is_file():
                places[f"plan file {path}"] = path.read_text(errors="replace")
    # The places were really looked at: the tenant is in each, and every kind was there.
    # The places were really looked at: the tenant is in each page, dump and mail.
    blind = [w for w, text in places.items() if slug not in text and "plan file" not in w]
    # The queue: no longer pending. The logs: the client libraries pin their own loggers to
    # WARNING (kubernetes, authentik), so what they hold depends on the tests run before.
    assert all(w.endswith("/approvals/") or w == "the logs" for w in blind), blind
    assert {"carol audit CSV", "erin audit CSV"} <= set(places)
    assert any(where.startswith("mail ") for where in places)
    assert every_log.records
    assert_nowhere(secrets, places)

    # Deleting it leaves nothing behind to leak either (and MariaDB as we found it): the
    # suspension, then the worker's purge (the final backup, its files Job run here, and the
    # teardown).
    client.force_login(requester)
    content, work = tmp_path / "wp-content", tmp_path / "work"
    content.mkdir()
    work.mkdir()
    (content / "index.php").write_text("<?php // Silence is golden.\n")
    with FilesJobRunner(kube, content, work), django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": slug})
        settle(tenant, kube, {Tenant.State.READY})
        purge_tenant(tenant.pk)
        settle(tenant, kube, {Tenant.State.DELETED, Tenant.State.FAILED})
    assert tenant.backups.get(reason="final").state == Backup.State.DONE
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    assert_nowhere(
        secrets,
        {
            "the portal database": database_dump(),
            "the logs": every_log.text,
            **pages(client, tenant, [approver]),
        },
    )
