"""In Chromium under a real worker: a tenant's backups, plan, restore, deletion, upgrade, clone."""

import re
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.manifests.files import COMPONENT_FILES
from provisioning.secrets import DB_PASSWORD
from tenants import services
from tenants.models import Backup, Tenant
from tenants.tasks import purge_due_deletions
from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import TenantFactory, UserFactory, plan
from tests.provisioning.cluster import S3_ADMIN, db_login, tenant_secret, wait_cluster_state
from tests.provisioning.conftest import platform  # noqa: F401  (the fixture)
from tests.provisioning.test_database import admin, query
from tests.tenants.jobrunner import FilesJobRunner
from tests.workers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PURGED = {Tenant.State.DELETED, Tenant.State.FAILED}


@contextmanager
def controllers(kube_api):
    """The cluster's controllers at work: rollouts done and Jobs complete as soon as applied,
    except the files Jobs, which wait for the test's FilesJobRunner."""
    stop = threading.Event()

    def play():
        while not stop.wait(0.2):
            kube_api.mark_ready(leave_component=COMPONENT_FILES)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def outside(settings, platform, tmp_path):  # noqa: F811
    """The live server's settings pointed at the systems the worker uses, and the worker."""
    env = platform.env
    settings.PORTAL_KUBECONFIG = env["PORTAL_KUBECONFIG"]
    settings.PORTAL_KUBE_CONTEXT = ""
    settings.PORTAL_MARIADB_URL = env["PORTAL_MARIADB_URL"]
    settings.PORTAL_S3_ENDPOINT_URL = env["PORTAL_S3_ENDPOINT_URL"]
    settings.PORTAL_S3_REGION = env["PORTAL_S3_REGION"]
    settings.PORTAL_S3_ACCESS_KEY_ID = S3_ADMIN["aws_access_key_id"]
    settings.PORTAL_S3_SECRET_ACCESS_KEY = S3_ADMIN["aws_secret_access_key"]
    settings.PORTAL_S3_BUCKET = env["PORTAL_S3_BUCKET"]
    settings.PORTAL_AUTHENTIK_URL = env["PORTAL_AUTHENTIK_URL"]
    settings.PORTAL_AUTHENTIK_TOKEN = env["PORTAL_AUTHENTIK_TOKEN"]
    settings.PORTAL_DELETE_GRACE_DAYS = 14
    # A node pool of 8 CPUs and 32 GiB, so the admin's decision shows the capacity hint.
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 8000
    settings.PORTAL_CLUSTER_MEMORY_MIB = 32768
    platform("w1", concurrency=2)
    content = tmp_path / "wp-content"
    (content / "themes" / "shop").mkdir(parents=True)
    (content / "themes" / "shop" / "style.css").write_text("/* the shop's theme */")
    work = tmp_path / "work"
    work.mkdir()
    slug = f"day{uuid.uuid4().hex[:6]}"
    yield platform, content, work, slug
    # What a walk that failed before the purge left in MariaDB (its clone's too).
    conn = admin()
    for name in (f"wp_{slug}", f"wp_{slug}_staging"):
        query(conn, f"DROP DATABASE IF EXISTS `{name}`")
        query(conn, f"DROP USER IF EXISTS `{name}`@`%`")
    conn.close()


def built(owner, approver, workers, kube_api, slug: str) -> Tenant:
    tenant = TenantFactory(owner=owner, slug=slug, plan=plan("small"))
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    wait_cluster_state(tenant, {Tenant.State.READY, Tenant.State.FAILED}, workers, kube_api)
    assert tenant.state == Tenant.State.READY, tenant.last_error
    return tenant


def test_day_two_from_a_backup_to_the_purge(browser, live_server, outside, kube_api):
    workers, content, work, slug = outside
    alice = UserFactory(username="alice", role="requester")
    carol = UserFactory(username="carol", role="approver")
    with controllers(kube_api):
        tenant = built(alice, carol, workers, kube_api, slug)
        password = tenant_secret(kube_api, tenant)[DB_PASSWORD]
        with db_login(tenant, password) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE wp_posts (id INT PRIMARY KEY, title VARCHAR(50))")
            cursor.execute("INSERT INTO wp_posts VALUES (1, 'written before')")
            conn.commit()

        owner = sign_in(browser, live_server, "alice")
        owner.goto(f"{live_server.url}{tenant.get_absolute_url()}")
        backup_followed_live(owner, tenant, kube_api, content, work)
        schedule_refused_then_set(owner)
        with FilesJobRunner(kube_api, content, work):
            admin = sign_in(browser, live_server, "carol")
            larger_plan_asked_and_approved(owner, admin, tenant, kube_api)
            reconcile_followed_live(admin, kube_api)
            restore_refused_then_done(owner, tenant, content, password)
            deleted_through_grace_and_purged(owner, admin, tenant, workers)


def backup_followed_live(owner, tenant, kube_api, content, work) -> None:
    """The section follows the backup while its files Job waits, then shows it done."""
    from playwright.sync_api import expect

    owner.get_by_role("button", name="Back up now").click()
    expect(owner.locator(".messages")).to_contain_text("A backup was started")
    section = owner.locator("#backups")
    expect(section.locator(".live-dot")).to_be_visible()
    # The worker dumped and uploaded the database; the files Job is applied and waits.
    expect(section.locator(".backup-progress")).to_contain_text(
        re.compile(r"part 3 of 5: archiving wp-content .*, since \d\d:\d\d:\d\d; .* written"),
        timeout=20_000,
    )
    expect(section.locator("progress")).to_have_attribute("value", "2")
    expect(section.locator("#btn-backup")).to_have_count(0)  # one at a time
    shot(owner, "day2-backup-running")
    with FilesJobRunner(kube_api, content, work):
        expect(section.locator("tbody tr").first.locator(".status")).to_have_text(
            "Done", timeout=20_000
        )
    expect(section.locator(".live-dot")).to_have_count(0)
    expect(section.locator(".backup-progress")).to_have_count(0)
    expect(section.locator("#btn-backup")).to_be_visible()
    item = tenant.backups.get()
    assert item.state == Backup.State.DONE, item.error
    assert item.size_bytes > 0
    shot(owner, "day2-backup-done")


def schedule_refused_then_set(owner) -> None:
    """A schedule further apart than the plan's RPO is refused below the form, an hour with
    "every 6 hours" beside its field, each keeping what was chosen; daily at 04:00 is then
    saved and said."""
    from playwright.sync_api import expect

    owner.select_option("#id_backup_frequency", "weekly")
    owner.get_by_role("button", name="Save schedule").click()
    expect(owner.locator("#schedule-error")).to_contain_text(
        "promises a good backup at least every 24 hours"
    )
    expect(owner.locator("#id_backup_frequency")).to_have_value("weekly")
    owner.select_option("#id_backup_frequency", "6h")
    owner.select_option("#id_backup_hour", "4")
    owner.get_by_role("button", name="Save schedule").click()
    expect(owner.locator("#hour-error")).to_have_text(
        "An hour of the day goes with daily or weekly backups only; leave it empty."
    )
    expect(owner.locator("#id_backup_hour")).to_have_attribute("aria-invalid", "true")
    expect(owner.locator("#id_backup_frequency")).to_have_value("6h")
    expect(owner.locator("#id_backup_hour")).to_have_value("4")
    shot(owner, "day2-schedule-refused")
    owner.select_option("#id_backup_frequency", "daily")
    owner.get_by_role("button", name="Save schedule").click()
    expect(owner.locator(".messages")).to_contain_text("Schedule saved")
    expect(owner.locator("#schedule-words")).to_contain_text("04:00")
    expect(owner.locator("#next-backup")).to_contain_text("04:00 UTC")
    shot(owner, "day2-schedule-set")


def larger_plan_asked_and_approved(owner, admin, tenant, kube_api) -> None:
    """The owner's larger plan waits for an admin with the usage rule's evidence; the admin
    approves it seeing what it claims of the node pool, and the site moves to it."""
    from playwright.sync_api import expect

    owner.get_by_role("link", name="Change plan…").click()
    owner.select_option("#id_plan", value=str(plan("medium").pk))
    owner.get_by_role("button", name="Change plan").click()
    expect(owner.locator(".messages")).to_contain_text("A platform admin will decide")
    expect(owner.locator("#requested-plan")).to_contain_text("Medium, waiting for a platform admin")
    expect(owner.locator("#plan-evidence")).to_contain_text("Usage rule: Not met: only 0 days")
    shot(owner, "day2-plan-asked")

    admin.goto(f"{owner.url}")
    admin.get_by_role("link", name="Decide on plan…").click()
    request = admin.locator("#plan-request")
    expect(request).to_contain_text("alice asked for Medium")
    expect(request.locator("#plan-evidence")).to_contain_text("Usage rule: Not met: only 0 days")
    expect(request.locator(".capacity")).to_contain_text(re.compile(r"CPU \d+%.*memory \d+%"))
    shot(admin, "day2-plan-decision")
    # A rollout that takes a moment, so the owner's page opens while the run is under way.
    kube_api.delay("PATCH", r"/deployments/wordpress$", seconds=5)
    admin.get_by_role("button", name="Approve Medium").click()
    expect(admin.locator(".messages")).to_contain_text("is moving to Medium")
    expect(admin.locator("#tenant-facts")).to_contain_text("Medium")
    owner.reload()
    expect(owner.locator("#progress .live-dot")).to_be_visible()
    expect(owner.locator("#btn-backup")).to_have_count(0)  # nothing to back up mid-run
    # The run's end brings back on the open page what a ready tenant offers.
    expect(owner.locator("#progress")).to_contain_text(
        "(plan change, asked by carol): Succeeded", timeout=30_000
    )
    expect(owner.locator("#tenant-facts .state").first).to_have_text("Ready")
    expect(owner.locator("#btn-backup")).to_be_visible()
    expect(owner.locator("#backups").get_by_role("link", name="Restore…")).to_be_visible()
    expect(owner.locator("#id_backup_frequency")).to_have_value("daily")
    tenant.refresh_from_db()
    assert tenant.plan.name == "medium" and tenant.requested_plan is None


def reconcile_followed_live(admin, kube_api) -> None:
    """A reconcile by hand leaves the site serving (ready) while it runs; the page follows it
    by htmx, the actions swapped in out of band with each poll and the backup schedule with the
    last, and what the admin was typing there stays as typed. A password manager marks the
    suspend reason's field by its style (through the CSSOM, which the CSP allows): the swap
    must not copy that style onto the new field with setAttribute, an inline style the CSP
    blocks (htmx's settle step did, for the attributes in htmx.config.attributesToSettle)."""
    from playwright.sync_api import expect

    kube_api.delay("PATCH", r"/deployments/wordpress$", seconds=5)
    admin.get_by_role("button", name="Reconcile now").click()
    expect(admin.locator(".messages")).to_contain_text("Reconcile started.")
    expect(admin.locator("#progress .live-dot")).to_be_visible()
    # The admin starts writing why they suspend it while the page polls.
    admin.locator("#btn-suspend").click()
    admin.fill("#suspend-reason", "Checking an abuse report")
    admin.select_option("#id_backup_frequency", "12h")  # and a schedule, not saved yet
    admin.evaluate("document.querySelector('#suspend-reason').style.backgroundColor = 'lavender'")
    expect(admin.locator("#progress")).to_contain_text("Running", timeout=10_000)
    expect(admin.locator("#progress")).to_contain_text(
        "(manual, asked by carol): Succeeded", timeout=30_000
    )
    expect(admin.locator("#tenant-facts .state").first).to_have_text("Ready")
    # What was typed outlived every poll, and the form is still open.
    expect(admin.locator("#suspend-reason")).to_have_value("Checking an abuse report")
    expect(admin.locator("#suspend-reason")).to_be_visible()
    expect(admin.locator("#id_backup_frequency")).to_have_value("12h")


def restore_refused_then_done(owner, tenant, content, password) -> None:
    """A wrong name refuses the restore beside the field and keeps what was typed; the right
    one restores, a safety backup first, and the page says how it went."""
    from playwright.sync_api import expect

    with db_login(tenant, password) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO wp_posts VALUES (2, 'written after')")
        conn.commit()
    (content / "themes" / "shop" / "style.css").write_text("/* changed since */")
    backups_before = tenant.backups.count()
    owner.locator("#backups").get_by_role("link", name="Restore…").last.click()
    owner.fill("#confirm_slug", f"{tenant.slug}x")
    owner.get_by_role("button", name="Restore").click()
    expect(owner.locator(".field.has-error #confirm_slug_error")).to_have_text(
        f"Type the tenant's name, {tenant.slug}, to confirm."
    )
    expect(owner.locator("#confirm_slug")).to_have_value(f"{tenant.slug}x")
    tenant.refresh_from_db()
    assert not tenant.restoring and tenant.backups.count() == backups_before
    shot(owner, "day2-restore-refused")
    owner.fill("#confirm_slug", tenant.slug)
    owner.get_by_role("button", name="Restore").click()
    expect(owner.locator(".messages")).to_contain_text("Restoring the backup of")
    note = owner.locator("#restore-note")
    expect(note).to_contain_text("Restored the backup of", timeout=30_000)
    safety = owner.locator("#backups tbody tr").filter(has_text="(before restore)")
    expect(safety.locator(".status")).to_have_text("Done")
    shot(owner, "day2-restored")
    with db_login(tenant, password) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM wp_posts")
        assert cursor.fetchall() == ((1,),)
    assert (content / "themes" / "shop" / "style.css").read_text() == "/* the shop's theme */"


def deleted_through_grace_and_purged(owner, admin, tenant, workers) -> None:  # noqa: F811
    """Delete asks for the name; the tenant is then suspended until its date, cancellable;
    past it the purge backs it up a last time and tears it down, and the page reports what
    went, with the way back for an admin."""
    from playwright.sync_api import expect

    owner.reload()
    owner.get_by_role("link", name="Delete…").click()
    expect(owner.locator(".alert-warning")).to_contain_text("14 days later removed")
    owner.fill("#confirm_slug", "shop")
    owner.get_by_role("button", name="Delete").click()
    expect(owner.locator("#confirm_slug_error")).to_have_text(
        f"Type the tenant's name, {tenant.slug}, to confirm."
    )
    expect(owner.locator("#confirm_slug")).to_have_value("shop")
    owner.fill("#confirm_slug", tenant.slug)
    owner.get_by_role("button", name="Delete").click()
    expect(owner.locator(".messages")).to_contain_text(
        f"{tenant.slug} is suspended and will be deleted"
    )
    expect(owner.locator("#delete-after")).to_contain_text("unless cancelled before")
    expect(owner.locator("#suspended-badge")).to_be_visible()
    expect(owner.locator("#tenant-facts")).to_contain_text("unless cancelled. The site's address")
    expect(owner.get_by_role("button", name="Cancel deletion")).to_be_visible()
    expect(owner.locator("#progress")).to_contain_text(
        "(delete later, asked by alice): Succeeded", timeout=30_000
    )
    expect(owner.locator("#tenant-facts .state").first).to_have_text("Ready")
    shot(owner, "day2-grace")

    # The grace period is over: the beat's purge finds it due.
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(minutes=1))
    purge_due_deletions.delay()
    wait_until(lambda: _state(tenant) in PURGED, 60, "the purge", workers.logs)
    admin.goto(owner.url)
    expect(admin.locator("#tenant-facts .state").first).to_have_text("Deleted")
    expect(admin.locator("#suspended-badge")).to_have_count(0)  # gone, not suspended
    report = admin.locator("#teardown-report")
    expect(report).to_contain_text("checked gone")
    expect(report).to_contain_text(f"namespace wp-{tenant.slug}")
    final = tenant.backups.get(reason="final")
    assert final.state == Backup.State.DONE, final.error
    expect(admin.locator("#btn-recreate")).to_contain_text("Recreate from the backup of")
    shot(admin, "day2-purged")


def test_a_clone_to_staging_asked_approved_built_and_filled(
    browser, live_server, outside, kube_api
):
    """The owner asks for a staging clone; an admin approves it (the page names the original,
    with the capacity hint); it is built, then filled from a fresh backup of the original, its
    links rewritten to its own host, and its page says so."""
    from playwright.sync_api import expect

    workers, content, work, slug = outside
    staging = content.parent / "staging-content"
    staging.mkdir()
    volumes = {f"wp-{slug}": content, f"wp-{slug}-staging": staging}
    alice = UserFactory(username="alice", role="requester")
    carol = UserFactory(username="carol", role="approver")
    with controllers(kube_api), FilesJobRunner(kube_api, volumes, work):
        tenant = built(alice, carol, workers, kube_api, slug)
        password = tenant_secret(kube_api, tenant)[DB_PASSWORD]
        with db_login(tenant, password) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE wp_posts (id INT PRIMARY KEY, body VARCHAR(200))")
            cursor.execute("INSERT INTO wp_posts VALUES (1, %s)", [f"https://{tenant.host}/about"])
            conn.commit()

        owner = sign_in(browser, live_server, "alice")
        owner.goto(f"{live_server.url}{tenant.get_absolute_url()}")
        owner.get_by_role("link", name="Clone to staging…").click()
        expect(owner.locator("#id_slug")).to_have_value(f"{slug}-staging")
        owner.get_by_role("button", name="Request the clone").click()
        expect(owner.locator(".messages")).to_contain_text(
            f"The clone {slug}-staging of {slug} was requested"
        )
        expect(owner.locator("#tenant-facts .state")).to_have_text("Awaiting approval")
        expect(owner.locator("#clone-of")).to_contain_text(slug)
        clone = Tenant.objects.get(slug=f"{slug}-staging")

        admin = sign_in(browser, live_server, "carol")
        admin.goto(f"{live_server.url}{clone.get_absolute_url()}")
        admin.get_by_role("link", name="Decide…").click()
        expect(admin.locator("#approval-clone-of")).to_contain_text(slug)
        expect(admin.locator(".capacity")).to_contain_text(re.compile(r"CPU \d+%.*memory \d+%"))
        shot(admin, "day2-clone-approval")
        admin.get_by_role("button", name="Approve").click()
        expect(admin.locator(".messages")).to_contain_text(f"Approved {slug}-staging")

        # The owner's open page of the clone follows its build and then its filling.
        expect(owner.locator("#tenant-facts .state")).to_have_text("Ready", timeout=30_000)
        expect(owner.locator("#restore-note")).to_contain_text(
            f"Copied the content of {slug} from its backup of", timeout=30_000
        )
        expect(owner.locator("#restore-note")).to_contain_text(f"1 value now names {clone.host}")
        expect(owner.locator("#clone-of")).to_contain_text("content copied")
        expect(owner.get_by_role("link", name=f"Promote to {slug}…")).to_be_visible()
        shot(owner, "day2-clone-filled")
    clone.refresh_from_db()
    clone_password = tenant_secret(kube_api, clone)[DB_PASSWORD]
    with db_login(clone, clone_password) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT body FROM wp_posts")
        assert cursor.fetchall() == ((f"https://{clone.host}/about",),)


def _state(tenant) -> str:
    tenant.refresh_from_db()
    return tenant.state


def test_an_upgrade_followed_from_its_backup_to_the_new_version(
    browser, live_server, outside, kube_api
):
    """The owner upgrades WordPress: the page says it backs up first, follows that backup,
    then the rollout, and ends on the new version with the schema updated."""
    from playwright.sync_api import expect

    workers, content, work, slug = outside
    alice = UserFactory(username="alice", role="requester")
    carol = UserFactory(username="carol", role="approver")
    with controllers(kube_api), FilesJobRunner(kube_api, content, work):
        tenant = built(alice, carol, workers, kube_api, slug)
        owner = sign_in(browser, live_server, "alice")
        owner.goto(f"{live_server.url}{tenant.get_absolute_url()}")
        owner.locator("#btn-upgrade").click()
        owner.select_option("#upgrade-version", "6.9")
        owner.get_by_role("button", name="Upgrade", exact=True).click()
        expect(owner.locator(".messages")).to_contain_text("is being upgraded to WordPress 6.9")
        expect(owner.locator("#upgrade-pending")).to_contain_text("backing up before the upgrade")
        shot(owner, "day2-upgrade-backup")
        before = owner.locator("#backups tbody tr").filter(has_text="(before upgrade)")
        expect(before.locator(".status")).to_have_text("Done", timeout=20_000)
        # Its run begins once the backup is done, and the open page follows it there too.
        expect(owner.locator("#progress")).to_contain_text(
            re.compile(r"run #2 \(upgrade, asked by \w+\): Succeeded"), timeout=30_000
        )
        facts = owner.locator("#tenant-facts")
        expect(facts).to_contain_text("6.9")
        expect(owner.locator("#upgrade-pending")).to_have_count(0)
        shot(owner, "day2-upgraded")
    tenant.refresh_from_db()
    assert tenant.wordpress_version == "6.9" and not tenant.upgrade_to
