"""Generated input at every form, filter and admin page, as the role that may use it: never a 500.

The test client re-raises what a view lets escape, so an uncaught error fails the example with
its traceback; an answer of 500 or more fails it too.
"""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.admin import ReadOnlyAdmin
from tenants.forms import RejectForm, TenantRequestForm
from tests.factories import TenantFactory, UserFactory, request_form_data

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
@given(data=fields(*TenantRequestForm.base_fields))
def test_the_request_form(requester, data):
    # Over a valid filing, so the odd value reaches the service when the form lets it through.
    assert_no_500(signed_in(requester).post(reverse("tenants:request"), request_form_data(**data)))


@EXAMPLES
@given(data=fields("state", "plan", "owner", "q", "sort", "page"))
def test_the_tenant_list_filters(approver, data):
    assert_no_500(signed_in(approver).get(reverse("tenants:list"), data))


@EXAMPLES
@given(data=fields("page"))
def test_the_approval_queue_pages(approver, data):
    assert_no_500(signed_in(approver).get(reverse("tenants:approvals"), data))


@EXAMPLES
@given(data=fields("decision", *RejectForm.base_fields))
def test_the_decision_form(approver, data):
    tenant = TenantFactory(state="requested")
    url = reverse("tenants:approval", args=[tenant.pk])
    assert_no_500(signed_in(approver).post(url, data))


@EXAMPLES
@given(data=fields("confirm_slug"), action=st.sampled_from(["delete", "retry", "reconcile"]))
def test_the_tenant_actions(requester, data, action):
    tenant = TenantFactory(owner=requester, state="failed")
    url = reverse(f"tenants:{action}", args=[tenant.pk])
    assert_no_500(signed_in(requester).post(url, data))


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
