"""Generated input at every form, filter and admin page, as the role that may use it: never a 500.

Every POST URL of the role table (tests/portal/test_url_roles.py) is sent a few examples, and
the pages are read for their forms, so a new form or field can't be left out.

The test client re-raises what a view lets escape, so an uncaught error fails the example with
its traceback; an answer of 500 or more fails it too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.messages import constants, get_messages
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api import tokens
from api.forms import TokenCreateForm
from api.models import ApiToken
from tenants import upgrade
from tenants.admin import ReadOnlyAdmin
from tenants.forms import BackupScheduleForm, CloneForm, RejectForm, TenantRequestForm
from tenants.models import Backup, Tenant, TenantHost, TenantMember
from tests import services as svc
from tests.factories import TenantFactory, UserFactory, plan, request_form_data
from tests.portal.test_url_roles import TABLE

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any text a browser can send (UTF-8 has no lone surrogates), and the values that broke things
# before: NUL, numbers past every column's range, floats Python parses and SQL does not.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
ODD = st.sampled_from(
    ["", " ", "\x00", "0", "-1", "1\x00", "99999999999999999999", "1e309", "NaN", "x" * 5000]
)
VALUE = st.one_of(TEXT, ODD, st.integers().map(str))
VALUES = st.one_of(VALUE, st.lists(VALUE, min_size=2, max_size=3))


def fields(*names: str):
    """Some of the named fields (and maybe an unexpected one), each with odd values."""
    return st.fixed_dictionaries({}, optional={name: VALUES for name in (*names, "extra")})


def assert_no_500(response) -> None:
    assert response.status_code < 500, response.content[:500]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@EXAMPLES
@given(data=fields("state", "plan", "owner", "q", "sort", "page"))
def test_the_tenant_list_filters(approver, data):
    assert_no_500(signed_in(approver).get(reverse("tenants:list"), data))


@EXAMPLES
@given(data=fields("page"))
def test_the_approval_queue_pages(approver, data):
    assert_no_500(signed_in(approver).get(reverse("tenants:approvals"), data))


# A few per form: there are some thirty, and each example builds its tenant afresh.
FEW = settings(EXAMPLES, max_examples=6)


@dataclass
class Form:
    """One POST URL of the role table: who sends it, over what (make: the owner and an approver
    -> the URL's arguments and a valid submission the generated values override, so an odd
    value reaches the service whenever the form lets it through) and the fields it has."""

    sender: str
    make: Callable[[object, object], tuple[list | dict, dict]]
    fields: tuple[str, ...] = ()


def _tenant(owner, **fields):
    return TenantFactory(owner=owner, **{"state": "ready", **fields})


def _rejected(owner, approver):
    tenant = _tenant(owner, state="rejected", decided_by=approver, rejection_reason="Smaller.")
    return [tenant.pk], request_form_data(slug=tenant.slug)


def _suspended(owner, approver, **more):
    tenant = _tenant(owner, suspended_at=timezone.now(), suspended_by=owner, **more)
    return [tenant.pk], {}


def _restore(owner, approver):
    tenant = _tenant(owner)
    done = Backup.objects.create(tenant=tenant, state="done", finished_at=timezone.now())
    return [tenant.pk, done.pk], {"confirm_slug": tenant.slug}


def _deleted(owner, approver):
    tenant = _tenant(owner, state="deleted", desired_present=False, decided_at=timezone.now())
    Backup.objects.create(tenant=tenant, state="done", finished_at=timezone.now(), reason="final")
    return [tenant.pk], {}


def _member(owner, approver):
    tenant = _tenant(owner)
    member = TenantMember.objects.create(tenant=tenant, username="zoe", added_by=owner)
    return [tenant.pk], {"member": str(member.pk)}


def _host(owner, approver):
    tenant = _tenant(owner)
    TenantHost.objects.create(tenant=tenant, name="blog.example.org", added_by=owner)
    return [tenant.pk], {"name": "blog.example.org"}


def _token(owner, approver):
    row, _ = tokens.token_create(user=owner, name=f"ci{ApiToken.objects.count()}", days=30)
    return [row.pk], {}


def _clone_of(owner, approver):
    tenant = _tenant(owner)
    done = Backup.objects.create(tenant=tenant, state="done", finished_at=timezone.now())
    return [tenant.pk], {"backup": str(done.pk)}


def _clone(owner, approver):
    original = _tenant(owner)
    staging = _tenant(owner, clone_of=original, cloned_at=timezone.now())
    return [staging.pk], {"confirm_slug": original.slug}


def _empty_clone(owner, approver):
    return [_tenant(owner, clone_of=_tenant(owner)).pk], {}


def _made(base, owner):
    """A tenant of the owner's (ready unless base["tenant"] says otherwise) and the valid
    submission base gives, its callables called with the tenant."""
    fields = dict(base)
    tenant = _tenant(owner, **fields.pop("tenant", {}))
    return [tenant.pk], {k: v(tenant) if callable(v) else v for k, v in fields.items()}


def _nothing(owner, approver):
    return [], {}


REQUEST = tuple(TenantRequestForm.base_fields)
# Every POST URL in tests/portal/test_url_roles.py's TABLE, checked below: a new one fails
# test_every_post_url_is_fuzzed until it is added here.
FORMS = {
    "tenants:request": Form("owner", lambda o, a: ([], request_form_data()), REQUEST),
    "tenants:resubmit": Form("owner", _rejected, REQUEST),
    "tenants:retry": Form("approver", lambda o, a: _made({"tenant": {"state": "failed"}}, o)),
    "tenants:reconcile": Form("owner", lambda o, a: _made({}, o)),
    "tenants:delete": Form(
        "owner", lambda o, a: _made({"confirm_slug": lambda t: t.slug}, o), ("confirm_slug",)
    ),
    "tenants:suspend": Form("owner", lambda o, a: _made({}, o), ("reason",)),
    "tenants:resume": Form("owner", _suspended),
    "tenants:cancel_delete": Form(
        "owner",
        lambda o, a: _suspended(
            o, a, delete_after=timezone.now() + timedelta(days=7), deletion_suspended=True
        ),
    ),
    # An admin applies a larger plan at once, or declines the owner's wish for one.
    "tenants:plan": Form(
        "approver", lambda o, a: _made({"plan": plan("large").pk}, o), ("plan", "decision")
    ),
    "tenants:pipeline": Form("owner", lambda o, a: _made({"on": "1"}, o), ("on",)),
    "tenants:upgrade": Form(
        "owner",
        lambda o, a: _made(
            {"tenant": {"wordpress_version": "6.0"}, "version": lambda t: upgrade_to(t)}, o
        ),
        ("version",),
    ),
    "tenants:backup": Form("owner", lambda o, a: _made({}, o)),
    "tenants:backup_schedule": Form(
        "owner",
        lambda o, a: _made({"frequency": "daily", "hour": "3"}, o),
        tuple(BackupScheduleForm.base_fields),
    ),
    # A deleted tenant with a backup left, recreated by an admin (refused by message here:
    # backups aren't configured).
    "tenants:recreate": Form("approver", _deleted),
    "tenants:restore": Form("owner", _restore, ("confirm_slug",)),
    "tenants:clone": Form("owner", _clone_of, tuple(CloneForm.base_fields)),
    "tenants:promote": Form("owner", _clone, ("confirm_slug",)),
    "tenants:fill": Form("owner", _empty_clone),
    # An admin's comment may be a note kept from the owner, and lead back to the approval page.
    "tenants:comment": Form(
        "approver",
        lambda o, a: _made({"tenant": {"state": "requested"}, "text": "Why so large?"}, o),
        ("text", "admins_only", "back"),
    ),
    "tenants:member_add": Form("owner", lambda o, a: _made({"username": "zoe"}, o), ("username",)),
    "tenants:member_remove": Form("owner", _member, ("member",)),
    "tenants:host_add": Form(
        "owner", lambda o, a: _made({"name": "shop.example.org"}, o), ("name",)
    ),
    "tenants:host_check": Form("owner", _host, ("name",)),
    "tenants:host_remove": Form("owner", _host, ("name",)),
    "tenants:approval": Form(
        "approver",
        lambda o, a: _made(
            {"tenant": {"state": "requested"}, "decision": "reject", "reason": "Too big."}, o
        ),
        ("decision", *RejectForm.base_fields),
    ),
    "api_tokens:list": Form(
        "owner", lambda o, a: ([], {"name": "ci", "days": "30"}), tuple(TokenCreateForm.base_fields)
    ),
    "api_tokens:revoke": Form("owner", _token),
    "account_logout": Form("owner", _nothing, ("next",)),
    # Signed by a tenant's key, not a form: tests/tenants/test_pipeline_hook.py sends it bodies.
    "pipeline-hook": Form("anonymous", _nothing),
    # No provider while Authentik is unset: 404 whatever is sent.
    "openid_connect_callback": Form(
        "anonymous", lambda o, a: ({"provider_id": "authentik"}, {}), ("code", "state", "error")
    ),
}


def upgrade_to(tenant) -> str:
    return (upgrade.versions_above(tenant.wordpress_version) or [""])[0]


def _url(name: str, args: list | dict) -> str:
    return reverse(name, kwargs=args) if isinstance(args, dict) else reverse(name, args=args)


def test_every_post_url_is_fuzzed():
    posted = {name for name, (_, _, post) in TABLE.items() if post is not None}
    assert posted == set(FORMS), "add each POST URL of the role table to FORMS"


@pytest.fixture
def reachable(settings):
    # Changes past the action limit would stop at it, short of the service.
    settings.PORTAL_RATE_LIMIT_ACTIONS = "100000/86400"
    settings.PORTAL_RATE_LIMIT_REQUESTS = "100000/86400"
    settings.PORTAL_MAX_TENANTS_PER_USER = 100000
    # Backups and restores need both configured to go past their first check; no test here
    # commits, so no worker is sent and nothing connects to either.
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    return settings


def _client(form: Form, owner, approver) -> Client:
    if form.sender == "anonymous":
        return Client()
    return signed_in(owner if form.sender == "owner" else approver)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_post_form(requester, approver, reachable, name):
    form = FORMS[name]

    # Beside the generated values, each field at once with those that broke forms before.
    @FEW
    @example(data=dict.fromkeys(form.fields, "\x00"))
    @example(data=dict.fromkeys(form.fields, "x" * 5000))
    @given(data=fields(*form.fields))
    def check(data):
        args, base = form.make(requester, approver)
        client = _client(form, requester, approver)
        assert_no_500(client.post(_url(name, args), {**base, **data}))

    check()


# Sent as made, these are refused or change nothing (no state to change), by design.
NOT_ACCEPTED = {"pipeline-hook", "openid_connect_callback"}


@pytest.mark.parametrize("name", sorted(set(FORMS) - NOT_ACCEPTED))
def test_each_made_submission_is_accepted(requester, approver, reachable, name):
    """The submissions the generated values override go through: the values reach the
    service, not only the first check."""
    form = FORMS[name]
    args, base = form.make(requester, approver)
    response = _client(form, requester, approver).post(_url(name, args), base)
    errors = [
        m
        for m in get_messages(response.wsgi_request)
        # No DNS server answers in tests: the look-up was made, and that is what it says.
        if m.level == constants.ERROR
        and not (name == "tenants:host_check" and "not proven yet" in m.message)
    ]
    assert response.status_code < 400 and not errors, (response.status_code, errors)


class _Forms(HTMLParser):
    """The POST forms of a page: (action path, the names of their fields)."""

    def __init__(self, path: str):
        super().__init__()
        self.path, self.forms, self._open = path, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._open = (attrs.get("action") or self.path, set())
            self.forms.append(self._open)
        elif tag in ("input", "select", "textarea", "button") and self._open and attrs.get("name"):
            self._open[1].add(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


# The pages of no tenant, read as each sender too.
PAGES = (
    "home",
    "profile",
    "api_tokens:list",
    "tenants:request",
    "tenants:list",
    "tenants:approvals",
)


def test_each_form_on_the_pages_is_fuzzed_with_all_its_fields(requester, approver, reachable):
    """The pages each FORMS entry is made for, read as their sender: every POST form on them
    posts to a URL in FORMS, with no field FORMS leaves out, and every form is seen."""
    seen = set()
    for name, form in FORMS.items():
        if form.sender == "anonymous":
            continue
        args, _ = form.make(requester, approver)
        client = _client(form, requester, approver)
        pages = [_url(name, args)]
        tenant = Tenant.objects.filter(pk=args[0]).first() if args else None
        if tenant is not None and name != "api_tokens:revoke":
            pages += [tenant.get_absolute_url(), reverse("tenants:approval", args=[tenant.pk])]
        for path in pages + [reverse(n) for n in PAGES]:
            response = client.get(path)
            if response.status_code != 200:
                continue
            parser = _Forms(path)
            parser.feed(response.content.decode())
            for action, names in parser.forms:
                target = resolve(urlsplit(action).path).view_name
                assert target in FORMS, f"a form on {path} posts to {target}, not in FORMS"
                left_out = names - {"csrfmiddlewaretoken"} - set(FORMS[target].fields)
                assert not left_out, f"{target}'s form on {path} has {left_out}, not fuzzed"
                seen.add(target)
    unseen = {n for n, f in FORMS.items() if f.sender != "anonymous"} - seen - {"account_logout"}
    assert not unseen, f"no page made for these showed their form: {sorted(unseen)}"


@EXAMPLES
@given(data=fields("login", "password", "remember", "next"))
def test_the_sign_in_form(db, data):
    assert_no_500(Client().post(reverse("account_login"), data))


@EXAMPLES
@given(data=fields("username", "password", "next"))
def test_the_admin_sign_in_form(db, data):
    assert_no_500(Client().post(reverse("admin:login"), data))


def _admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _filter_names(model_admin) -> list[str]:
    """Each field of the model, bare and with the lookups a change list link may carry."""
    names = [f.name for f in model_admin.model._meta.get_fields() if f.concrete]
    lookups = ("exact", "in", "gte", "lt", "isnull", "year", "month", "day", "id__exact")
    return names + [f"{n}__{lookup}" for n in names for lookup in lookups] + ["q", "o", "p"]


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize(("model", "model_admin"), _admins(), ids=lambda v: str(v))
def test_every_admin_change_list(superuser, model, model_admin):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    client = signed_in(superuser)

    @EXAMPLES
    @given(data=st.dictionaries(st.sampled_from(_filter_names(model_admin)), VALUES, max_size=3))
    def check(data):
        assert_no_500(client.get(url, data, follow=True))

    check()


# The read-only admins (tenants, runs, the audit trail) have no add form at all.
WRITABLE = [(m, a) for m, a in _admins() if not isinstance(a, ReadOnlyAdmin)]


@pytest.mark.parametrize(("model", "model_admin"), WRITABLE, ids=lambda v: str(v))
def test_every_admin_add_form(superuser, rf, model, model_admin):
    request = rf.get("/")
    request.user = superuser
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    names = list(model_admin.get_form(request).base_fields)
    client = signed_in(superuser)

    @EXAMPLES
    @given(data=fields(*names))
    def check(data):
        assert_no_500(client.post(url, data))

    check()
