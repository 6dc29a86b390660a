"""Cloning a tenant on the test servers: Kubernetes fake, Authentik fake, real MariaDB, moto S3."""

import re
import uuid
from datetime import timedelta

import boto3
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Run
from provisioning.runs import run_request
from provisioning.searchreplace import rewrite_value
from tenants import clone, services
from tenants.models import AuditEvent, Backup, Tenant
from tests import services as svc
from tests.api.conftest import api_for  # noqa: F401  (a client with an API token)
from tests.factories import TenantFactory
from tests.provisioning.test_database import admin, query
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled
from tests.provisioning.test_storage import ADMIN, s3  # noqa: F401  (the S3 settings fixture)
from tests.tenants.jobrunner import FilesJobRunner

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def platform(settings, s3, kube_cluster, authentik_api, moto_url):  # noqa: F811
    """Every step real or on its test server: the engine builds tenants end to end (the S3
    settings and a fresh bucket name from test_storage's fixture)."""
    svc.require("MariaDB", svc.MARIADB)
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    settings.PORTAL_MARIADB_USER_HOST = "%"
    settings.PORTAL_MARIADB_REQUIRE_SSL = False
    settings.PORTAL_WAIT_FIRST = 0.1  # the files Jobs' status is looked at soon
    settings.PORTAL_WAIT_INTERVAL = 1
    store = boto3.client("s3", endpoint_url=moto_url, region_name="eu-central-1", **ADMIN)
    conn = admin()
    made: list[str] = []
    yield store, conn, made
    for slug in made:
        name = "wp_" + slug.replace("-", "_")
        query(conn, "DROP USER IF EXISTS %s@'%%'", [name])
        query(conn, f"DROP DATABASE IF EXISTS `{name}`")
        query(conn, "DELETE FROM tenant_portal.owned WHERE tenant = %s", [slug])
    conn.close()


def _built(tenant, kube) -> Tenant:
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    return tenant


SERIALIZED = 'a:1:{{s:3:"url";s:{n}:"{url}";}}'


def _serialized(url: str) -> str:
    return SERIALIZED.format(n=len(url.encode()), url=url)


@pytest.fixture
def source(platform, settings, requester, kube_cluster, django_capture_on_commit_callbacks):
    """A ready tenant with a post linking to its host, a serialized option and a media file."""
    store, conn, made = platform
    slug = f"c{uuid.uuid4().hex[:8]}"
    made += [slug, f"{slug}-staging"]
    tenant = TenantFactory(
        owner=requester, slug=slug, state=Tenant.State.APPROVED, s3_bucket=settings.PORTAL_S3_BUCKET
    )
    with django_capture_on_commit_callbacks():
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    tenant = _built(tenant, kube_cluster)
    db = "wp_" + slug
    query(conn, f"CREATE TABLE `{db}`.wp_options (option_id INT PRIMARY KEY, value LONGTEXT)")
    query(conn, f"CREATE TABLE `{db}`.wp_posts (id INT PRIMARY KEY, content TEXT)")
    query(
        conn,
        f"INSERT INTO `{db}`.wp_options VALUES (1, %s)",
        [_serialized(f"https://{tenant.host}/shop")],
    )
    link = f'<a href="https://{tenant.host}/about">About</a>'
    image = f"https://media.example/tenants/{slug}/2026/12/logo.png"
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (1, %s)", [link + image])
    store.put_object(Bucket=tenant.s3_bucket, Key=f"tenants/{slug}/2026/12/logo.png", Body=b"logo")
    return tenant


@pytest.fixture
def kubelet(source, kube_cluster, tmp_path):
    """The files Jobs run here: the original's wp-content has a theme, the clone's is empty."""
    theirs, ours = tmp_path / "source", tmp_path / "clone"
    (theirs / "themes" / "shop").mkdir(parents=True)
    (theirs / "themes" / "shop" / "style.css").write_text("/* the shop's own */")
    ours.mkdir()
    (tmp_path / "work").mkdir()
    volumes = {source.namespace: theirs, f"{source.namespace}-staging": ours}
    with FilesJobRunner(kube_cluster, volumes, tmp_path / "work") as runner:
        runner.volumes = volumes
        yield runner


def test_a_clone_is_a_tenant_of_its_own_filled_from_a_backup_and_isolated(
    source,
    kubelet,
    platform,
    requester,
    approver,
    client,
    kube_cluster,
    authentik_api,
    django_capture_on_commit_callbacks,
):
    store, conn, _ = platform
    client.force_login(requester)
    form = client.get(reverse("tenants:clone", args=[source.pk])).content.decode()
    assert f'value="{source.slug}-staging"' in form and "A fresh backup" in form
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("tenants:clone", args=[source.pk]), {}, follow=True)
    made = Tenant.objects.get(clone_of=source)
    assert answer.redirect_chain[-1][0] == made.get_absolute_url()
    assert "once a platform admin approves it" in answer.content.decode()
    # Like every new tenant, it waits for an admin; it is the owner's, on the original's plan.
    assert made.state == Tenant.State.REQUESTED and made.slug == f"{source.slug}-staging"
    assert (made.owner, made.plan, made.wordpress_version) == (
        source.owner,
        source.plan,
        source.wordpress_version,
    )
    assert made.host != source.host and not made.content_pipeline
    assert made in [t for t in Tenant.objects.filter(state=Tenant.State.REQUESTED)]
    assert AuditEvent.objects.filter(
        action=Action.TENANT_CLONE_REQUESTED, object_id=str(source.pk), actor=requester
    ).exists()

    services.tenant_approve(tenant_id=made.pk, actor=approver)
    made.refresh_from_db()
    assert made.s3_bucket == source.s3_bucket  # copies stay inside one bucket
    made = _built(made, kube_cluster)
    # The engine's ready run handed the clone to a worker to fill (run here, as the worker).
    assert made.restoring and "Copying the content of" in made.restore_note
    note = clone.clone_fill(made.pk)
    made.refresh_from_db()
    assert "Copied the content of" in note and made.cloned_at is not None
    assert not made.restoring and made.clone_backup.tenant == source
    assert made.clone_backup.reason == "for a clone" and made.clone_backup.state == "done"

    # Its own everything: namespace, workload, Authentik application, database and media.
    assert kube_cluster.get("Namespace", made.namespace) is not None
    assert kube_cluster.get("Deployment", "wordpress", made.namespace) is not None
    assert {f"wp-{source.slug}", f"wp-{made.slug}"} <= set(authentik_api.applications)
    src_db, new_db = "wp_" + source.slug, "wp_" + made.slug.replace("-", "_")
    (value,) = query(conn, f"SELECT value FROM `{new_db}`.wp_options")[0]
    assert value == _serialized(f"https://{made.host}/shop")  # its length counted again
    (content,) = query(conn, f"SELECT content FROM `{new_db}`.wp_posts")[0]
    assert f"https://{made.host}/about" in content and f"tenants/{made.slug}/" in content
    clone_theme = kubelet.volumes[made.namespace] / "themes" / "shop" / "style.css"
    assert clone_theme.read_text() == "/* the shop's own */"  # wp-content, by the files Jobs
    logo = store.get_object(Bucket=made.s3_bucket, Key=f"tenants/{made.slug}/2026/12/logo.png")
    assert logo["Body"].read() == b"logo"

    # Isolated: what the clone writes the original never sees, and the original is as it was.
    query(conn, f"INSERT INTO `{new_db}`.wp_posts VALUES (2, 'only on staging')")
    assert query(conn, f"SELECT id FROM `{src_db}`.wp_posts") == [(1,)]
    (original,) = query(conn, f"SELECT value FROM `{src_db}`.wp_options")[0]
    assert original == _serialized(f"https://{source.host}/shop")

    # Safe by default: the clone's site keeps search engines, mail, cron and visitors out.
    def install_script(namespace):
        jobs = kube_cluster.list("Job", namespace)
        (job,) = [j for j in jobs if j["metadata"]["name"].startswith("wordpress-install-")]
        return job["spec"]["template"]["spec"]["containers"][0]["command"][-1]

    assert "portal-staging.php" in install_script(made.namespace)
    assert "portal-staging.php" not in install_script(source.namespace)
    assert AuditEvent.objects.filter(action=Action.TENANT_CLONED, object_id=str(made.pk)).exists()
    page = client.get(made.get_absolute_url()).content.decode()
    assert 'id="clone-of"' in page and 'id="restore-note"' in page
    assert 'id="clones"' in client.get(source.get_absolute_url()).content.decode()


def test_a_clone_from_a_chosen_backup_and_one_whose_copy_fails_says_why(
    source, kubelet, platform, requester, approver, kube_cluster
):
    chosen = Backup.objects.create(tenant=source, reason="manual")
    from tenants import backups

    chosen = backups.backup_take(chosen.pk)
    assert chosen.state == Backup.State.DONE, chosen.error
    made = clone.tenant_clone(source=source, actor=requester, slug="", host="", backup_id=chosen.pk)
    assert made.clone_backup == chosen
    services.tenant_approve(tenant_id=made.pk, actor=approver)
    made = _built(made, kube_cluster)
    # The backup's dump no longer matches its manifest: the copy fails and says so.
    store, *_ = platform
    store.put_object(Bucket=source.s3_bucket, Key=chosen.prefix + "database.sql.gz", Body=b"x")
    note = clone.clone_fill(made.pk)
    made.refresh_from_db()
    assert "failed" in note and "checksum" in note and made.cloned_at is None
    assert not made.restoring and made.restore_note == note
    assert AuditEvent.objects.filter(action=Action.TENANT_CLONE_FAILED).count() == 1


def test_clones_are_refused_where_they_make_no_sense(
    settings, requester, other_requester, approver, client, platform
):
    from portal.errors import ApplicationError

    ready = TenantFactory(owner=requester, state=Tenant.State.READY)
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        clone.tenant_clone(source=ready, actor=other_requester)
    assert AuditEvent.objects.filter(action=Action.TENANT_REFUSED).count() == 1
    waiting = TenantFactory(owner=requester)
    with pytest.raises(ApplicationError, match="Only a ready tenant can be cloned"):
        clone.tenant_clone(source=waiting, actor=requester)
    staging = TenantFactory(owner=requester, state=Tenant.State.READY, clone_of=ready)
    with pytest.raises(ApplicationError, match="is itself a clone of"):
        clone.tenant_clone(source=staging, actor=requester)

    client.force_login(requester)
    url = reverse("tenants:clone", args=[ready.pk])
    long = TenantFactory(owner=requester, state=Tenant.State.READY, slug="x" * 25)
    too_long = client.post(reverse("tenants:clone", args=[long.pk]), {})
    assert too_long.status_code == 400 and "Use 3 to 30 characters" in too_long.content.decode()
    typed_long = client.post(url, {"slug": "y" * 70})  # past the field's cap: the rule still
    assert "Use 3 to 30 characters (this one has 70)." in typed_long.content.decode()
    bad_backup = client.post(url, {"backup": "999999"})
    assert bad_backup.status_code == 400
    assert "Choose one of the listed backups." in bad_backup.content.decode()
    taken = client.post(url, {"slug": waiting.slug})
    assert "already taken" in taken.content.decode()
    # Refused by the service (a deletion waits): the form again, with what was typed.
    Tenant.objects.filter(pk=ready.pk).update(delete_after=timezone.now() + timedelta(days=3))
    refused = client.post(url, {"slug": "shop-trial", "host": "trial.example.org"})
    page = refused.content.decode()
    assert refused.status_code == 409 and "cancel the deletion first" in page
    assert 'value="shop-trial"' in page and 'value="trial.example.org"' in page
    Tenant.objects.filter(pk=ready.pk).update(delete_after=None)

    # A platform admin's clone of someone's tenant is the owner's, yet another admin decides.
    admins_clone = clone.tenant_clone(source=ready, actor=approver, slug="by-an-admin")
    assert admins_clone.owner == requester
    with pytest.raises(ApplicationError, match="You asked for this clone; another admin must"):
        services.tenant_approve(tenant_id=admins_clone.pk, actor=approver)

    settings.PORTAL_MAX_TENANTS_PER_USER = Tenant.objects.filter(owner=requester).count()
    full = client.post(url, {"slug": "room-for-none"})
    assert full.status_code == 400 and "the most one person may have" in full.content.decode()
    settings.PORTAL_S3_BUCKET = ""
    settings.PORTAL_MARIADB_URL = ""
    gone = client.post(url, {}, follow=True).content.decode()
    assert "cloning needs the platform&#x27;s MariaDB and S3 configured" in gone


def test_the_rewrite_keeps_serialized_values_whole():
    old, new = b"//a.example", b"//staging.a.example"
    nested = b's:29:"a:1:{i:0;s:11:"//a.example";}";'
    assert rewrite_value(nested, old, new) == b's:37:"a:1:{i:0;s:19:"//staging.a.example";}";'
    obj = b'O:8:"stdClass":1:{s:1:"u";s:11:"//a.example";}'
    assert rewrite_value(obj, old, new) == b'O:8:"stdClass":1:{s:1:"u";s:19:"//staging.a.example";}'
    # Not serialized (or broken): replaced as text.
    assert rewrite_value(b"see //a.example", old, new) == b"see //staging.a.example"
    assert rewrite_value(b's:99:"//a.example";', old, new) == b's:99:"//staging.a.example";'
    assert rewrite_value("é //a.example".encode(), old, new) == "é //staging.a.example".encode()


def _filled(source, requester, approver, kube) -> Tenant:
    made = clone.tenant_clone(source=source, actor=requester)
    services.tenant_approve(tenant_id=made.pk, actor=approver)
    made = _built(made, kube)
    clone.clone_fill(made.pk)
    made.refresh_from_db()
    assert made.cloned_at is not None, made.restore_note
    return made


def test_promote_puts_the_clones_content_into_the_original_after_a_backup_of_it(
    source,
    kubelet,
    platform,
    requester,
    approver,
    client,
    kube_cluster,
    api_for,  # noqa: F811  (the fixture imported above)
):
    from tenants import promote

    store, conn, _ = platform
    staging = _filled(source, requester, approver, kube_cluster)
    src_db, new_db = "wp_" + source.slug, "wp_" + staging.slug.replace("-", "_")
    # Tried on staging: a new post, a new media file, a changed theme.
    query(
        conn,
        f"INSERT INTO `{new_db}`.wp_posts VALUES (2, %s)",
        [f'<a href="https://{staging.host}/new">New</a>'],
    )
    store.put_object(
        Bucket=staging.s3_bucket, Key=f"tenants/{staging.slug}/2026/12/new.png", Body=b"new"
    )
    theme = kubelet.volumes[staging.namespace] / "themes" / "shop" / "style.css"
    theme.write_text("/* tried on staging */")
    # Meanwhile on the original: a row that the promote replaces.
    query(conn, f"INSERT INTO `{src_db}`.wp_posts VALUES (3, 'written on production')")
    deployment = kube_cluster.get("Deployment", "wordpress", staging.namespace)
    env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "WP_STAGING" in env  # the staging mu-plugin acts on the clone only

    client.force_login(requester)
    url = reverse("tenants:promote", args=[staging.pk])
    page = client.get(url).content.decode()
    assert f"Type <strong>{source.slug}</strong>" in page
    wrong = client.post(url, {"confirm_slug": staging.slug})
    assert wrong.status_code == 400
    assert f"Type the name of the site overwritten, {source.slug}" in wrong.content.decode()
    etag = api_for(requester).get(reverse("api:tenant-detail", args=[staging.pk]))["ETag"]
    api_url = reverse("api:tenant-promote", args=[staging.pk])
    unsure = api_for(requester).post(api_url, {"confirm_slug": source.slug}, format="json")
    assert unsure.status_code == 428
    answer = client.post(url, {"confirm_slug": source.slug})
    assert answer.status_code == 302 and answer["Location"] == source.get_absolute_url()
    source.refresh_from_db()
    assert source.restoring and "Promoting" in source.restore_note
    busy = api_for(requester).post(
        api_url, {"confirm_slug": source.slug}, format="json", HTTP_IF_MATCH=etag
    )
    assert busy.status_code == 409 and "is being restored or filled" in busy.json()["detail"]

    # A first worker took the safety backup and died; the message came back to another.
    from tenants import backups

    first = backups.safety_backup(source, "before promote")
    note = promote.promote_run(staging.pk, actor=requester)  # what the worker runs
    source.refresh_from_db()
    assert note.startswith(f"Promoted {staging.slug}") and not source.restoring
    assert re.search(rf"\(\d+ values name {source.host}\)", note), note  # several: plural
    rows = dict(query(conn, f"SELECT id, content FROM `{src_db}`.wp_posts"))
    assert sorted(rows) == [1, 2]  # production's own later row is replaced
    assert rows[2] == f'<a href="https://{source.host}/new">New</a>'
    assert f"https://{source.host}/about" in rows[1] and f"tenants/{source.slug}/" in rows[1]
    (value,) = query(conn, f"SELECT value FROM `{src_db}`.wp_options")[0]
    assert value == _serialized(f"https://{source.host}/shop")
    new = store.get_object(Bucket=source.s3_bucket, Key=f"tenants/{source.slug}/2026/12/new.png")
    assert new["Body"].read() == b"new"
    production = kubelet.volumes[source.namespace] / "themes" / "shop" / "style.css"
    assert production.read_text() == "/* tried on staging */"
    safety = source.backups.get(reason="before promote")  # the one taken, reused
    assert safety == first and safety.state == Backup.State.DONE
    assert staging.backups.get(reason="for promote").state == Backup.State.DONE
    event = AuditEvent.objects.get(action=Action.TENANT_PROMOTED)
    assert event.actor == requester and event.after["safety_backup"] == safety.prefix
    assert 'id="restore-note"' in client.get(source.get_absolute_url()).content.decode()

    # What makes no sense is refused in words.
    not_a_clone = client.post(reverse("tenants:promote", args=[source.pk]), follow=True)
    assert "this tenant is no clone" in not_a_clone.content.decode()
    Tenant.objects.filter(pk=source.pk).update(wordpress_version="6.8")
    Tenant.objects.filter(pk=staging.pk).update(wordpress_version="6.7")
    staging.refresh_from_db()
    from portal.errors import ApplicationError

    with pytest.raises(ApplicationError, match="bring .* to 6.7 first"):
        promote.tenant_promote(tenant=staging, actor=requester, confirm_slug=source.slug)


CLONE_AND_PROMOTE = [
    "tenant.clone_requested",
    "tenant.cloned",
    "tenant.clone_failed",
    "tenant.promote_requested",
    "tenant.promoted",
    "tenant.promote_failed",
]


def test_clone_and_promote_are_heard_by_webhooks_signed(
    source, kubelet, platform, requester, approver, kube_cluster, loopback_receivers
):
    from standardwebhooks import Webhook

    from api.models import WebhookDelivery
    from api.webhooks import delivery
    from api.webhooks.services import endpoint_create
    from tenants import promote, restores
    from tests.fakes.webhook_receiver import Receiver

    with Receiver() as everyone, Receiver() as owners:
        _, admin_secret = endpoint_create(
            actor=approver, url=everyone.url, events=CLONE_AND_PROMOTE
        )
        # The owner's endpoint is the original's: a new clone has none of its own.
        _, owner_secret = endpoint_create(
            actor=requester, url=owners.url, events=CLONE_AND_PROMOTE, tenant=source
        )
        made = clone.tenant_clone(source=source, actor=requester)
        services.tenant_approve(tenant_id=made.pk, actor=approver)
        made = _built(made, kube_cluster)
        # The fill's worker stopped each time: the copy ends, failed; the owner copies again.
        Tenant.objects.filter(pk=made.pk).update(restore_tries=restores.MAX_TRIES)
        assert "didn't finish" in restores.restore_run(made.pk, made.restore_wakeup)
        made.refresh_from_db()
        clone.clone_fill_again(tenant=made, actor=requester)
        made.refresh_from_db()
        assert "Copied the content" in restores.restore_run(made.pk, made.restore_wakeup)
        made.refresh_from_db()
        # A promote whose worker stopped each time, then one that went through.
        promote.tenant_promote(tenant=made, actor=requester, confirm_slug=source.slug)
        source.refresh_from_db()
        Tenant.objects.filter(pk=source.pk).update(restore_tries=restores.MAX_TRIES)
        assert "Nothing was overwritten" in restores.restore_run(source.pk, source.restore_wakeup)
        promote.tenant_promote(tenant=made, actor=requester, confirm_slug=source.slug)
        source.refresh_from_db()
        assert restores.restore_run(source.pk, source.restore_wakeup).startswith("Promoted")
        # What the worker's webhook_deliver task does, in the order the events were written.
        for pk in WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True):
            assert delivery.attempt(pk), WebhookDelivery.objects.get(pk=pk).last_error

    heard = [
        ("tenant.clone_requested", source.slug),
        ("tenant.clone_failed", made.slug),
        ("tenant.clone_requested", made.slug),  # copy again
        ("tenant.cloned", made.slug),
        ("tenant.promote_requested", source.slug),
        ("tenant.promote_failed", source.slug),
        ("tenant.promote_requested", source.slug),
        ("tenant.promoted", source.slug),
    ]
    for receiver, secret in ((everyone, admin_secret), (owners, owner_secret)):
        verifier = Webhook(secret)  # the Standard Webhooks reference library's check
        bodies = [verifier.verify(body, headers) for headers, body in receiver.requests]
        assert [(b["type"], b["data"]["tenant"]["slug"]) for b in bodies] == heard
        clone_of = {b["data"]["tenant"]["slug"]: b["data"]["tenant"]["clone_of"] for b in bodies}
        assert clone_of == {source.slug: None, made.slug: source.slug}
        asked = bodies[4]
        assert asked["data"]["actor"] == requester.get_username()
        event = AuditEvent.objects.get(pk=asked["data"]["audit_event_id"])
        assert event.action == Action.TENANT_PROMOTE_REQUESTED and event.actor == requester
        assert event.after == {"staging": made.slug}
        assert "worker stopped 3 times" in bodies[5]["data"]["message"]


def test_several_hosts_are_rewritten_in_one_pass_the_longest_first():
    from provisioning.searchreplace import rewrite_text

    # The new host holds an old one: a second pass would rewrite what the first wrote.
    pairs = [("//wordpress-shop.local", "//shop.example.staging.test"), ("//shop.example", "//x")]
    text = "//wordpress-shop.local/a //shop.example/b"
    assert rewrite_text(text, pairs) == "//shop.example.staging.test/a //x/b"
    # One old host is part of another: each place by the longest found there.
    pairs = [("//shop.example", "//a.test"), ("//shop.example.org", "//b.test")]
    value = b'a:2:{i:0;s:20:"//shop.example.org/x";i:1;s:16:"//shop.example/y";}'
    assert rewrite_text(value, pairs) == b'a:2:{i:0;s:10:"//b.test/x";i:1;s:10:"//a.test/y";}'


def test_a_clone_gets_no_custom_host_and_its_links_to_them_lead_to_its_own_host(
    source, kubelet, platform, requester, approver, kube_cluster, authentik_api
):
    from django.utils import timezone

    from provisioning.spec import spec_for
    from tenants import customhosts, promote
    from tenants.models import TenantHost

    _, conn, _ = platform
    proven, waiting = f"www.{source.slug}.example", f"shop.{source.slug}.example"
    TenantHost.objects.create(tenant=source, name=proven, proven_at=timezone.now())
    TenantHost.objects.create(tenant=source, name=waiting)  # not served: not the site's yet
    src_db = "wp_" + source.slug
    query(
        conn,
        f"INSERT INTO `{src_db}`.wp_posts VALUES (2, %s)",
        [f'<a href="https://{proven}/cart">Cart</a> <a href="https://{waiting}/">Shop</a>'],
    )
    query(
        conn,
        f"INSERT INTO `{src_db}`.wp_options VALUES (2, %s)",
        [_serialized(f"https://{proven}/checkout")],
    )
    # A domain is one tenant's: the clone can't take the original's proven one as its host.
    with pytest.raises(ValidationError, match=f"{proven} is already in use by another tenant"):
        clone.tenant_clone(source=source, actor=requester, host=proven)

    made = _filled(source, requester, approver, kube_cluster)

    assert not made.hosts.exists() and spec_for(made).hosts == (made.host,)
    ingress = kube_cluster.get("Ingress", "wordpress", made.namespace)
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [made.host]
    provider = authentik_api.provider_named(f"wp-{made.slug}")
    assert all(made.host in uri["url"] for uri in provider["redirect_uris"])
    new_db = "wp_" + made.slug.replace("-", "_")
    posts = dict(query(conn, f"SELECT id, content FROM `{new_db}`.wp_posts"))
    assert posts[2] == (
        f'<a href="https://{made.host}/cart">Cart</a> <a href="https://{waiting}/">Shop</a>'
    )
    options = dict(query(conn, f"SELECT option_id, value FROM `{new_db}`.wp_options"))
    assert options[2] == _serialized(f"https://{made.host}/checkout")
    assert proven not in posts[1] + options[1]

    # Promoted, the clone's own links (and those to a host proven on it) go to the original's
    # site URL, its primary host; the original keeps its custom hosts.
    extra = f"try.{made.slug}.example"
    TenantHost.objects.create(tenant=made, name=extra, proven_at=timezone.now())
    query(conn, f"INSERT INTO `{new_db}`.wp_posts VALUES (3, %s)", [f"https://{extra}/new"])
    promote.tenant_promote(tenant=made, actor=requester, confirm_slug=source.slug)
    assert promote.promote_run(made.pk, actor=requester).startswith("Promoted")
    posts = dict(query(conn, f"SELECT id, content FROM `{src_db}`.wp_posts"))
    assert posts[2].startswith(f'<a href="https://{source.host}/cart">')
    assert posts[3] == f"https://{source.host}/new"
    assert made.host not in "".join(posts.values())
    assert set(source.hosts.values_list("name", flat=True)) == {proven, waiting}
    # Nor can the clone add it later.
    with pytest.raises(ValidationError, match=f"{proven} is already in use by another tenant"):
        customhosts.host_add(tenant=made, actor=requester, name=proven)
