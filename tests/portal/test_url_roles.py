"""Every URL of the portal x every role: the status each gets. A new URL must be added here."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import TenantFactory

ROLES = ("anonymous", "requester", "other_requester", "approver", "auditor")
# Our own URL modules: every named pattern they define must be in the table below.
OUR_URLCONFS = ("portal.", "tenants.", "provisioning.", "api.pages")
# From others' URL modules, the ones the portal's pages lead to.
ALSO = {"admin:index", "account_login", "account_logout"}

L = "login"  # a redirect to a sign-in page (the portal's, or the admin's own)
_ = None  # method not tested on this URL

# name -> (needs the requester's tenant, or the URL's keyword arguments; GET per role, POST per
# role), roles in ROLES order.
TABLE = {
    "home": (False, (302, 302, 302, 302, 302), _),
    "healthz": (False, (200, 200, 200, 200, 200), _),
    "readyz": (False, (200, 200, 200, 200, 200), _),
    # Without PORTAL_METRICS_TOKEN there are no metrics (tests/portal/test_metrics.py sets one).
    "metrics": (False, (404, 404, 404, 404, 404), _),
    "tenants:list": (False, (L, 200, 200, 200, 200), _),
    # Auditors may look at the form, never send it.
    # Auditors read; the forms that change things are not theirs to open either.
    "tenants:request": (False, (L, 200, 200, 200, 403), (L, 400, 400, 400, 403)),
    # Someone else's tenant answers 404, exactly like a tenant that does not exist.
    "tenants:detail": (True, (L, 200, 404, 200, 200), _),
    "tenants:progress": (True, (L, 200, 404, 200, 200), _),
    "tenants:backups": (True, (L, 200, 404, 200, 200), _),
    # The actions redirect back to the tenant, with a message when they can't be done.
    "tenants:retry": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    "tenants:reconcile": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # Without the typed confirmation the delete page comes back with its error.
    "tenants:delete": (True, (L, 200, 404, 200, 403), (L, 400, 404, 400, 403)),
    # Suspend, resume and cancelling a deletion: this tenant (a request) can't be, said by message.
    "tenants:suspend": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    "tenants:resume": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    "tenants:upgrade": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # This tenant is a request: no backup of it, said by message.
    "tenants:backup": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # Sent empty: the form says to choose a frequency, on the page (400).
    "tenants:backup_schedule": (True, (L, 405, 405, 405, 403), (L, 400, 404, 400, 403)),
    # No such tenant (nor backup): 404 to everyone who may act.
    "tenants:restore": (
        {"pk": 999999, "backup_pk": 1},
        (L, 404, 404, 404, 403),
        (L, 404, 404, 404, 403),
    ),
    # The clone form; sent for this tenant (a request, not ready) it comes back with the
    # refusal and what was typed.
    "tenants:clone": (True, (L, 200, 404, 200, 403), (L, 409, 404, 409, 403)),
    # This tenant is no clone: nothing to promote, said by message.
    "tenants:promote": (True, (L, 302, 404, 302, 403), (L, 302, 404, 302, 403)),
    # Only a deleted tenant is recreated, by platform admins: refused by message.
    "tenants:recreate": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # This tenant is no clone: nothing to copy into it, said by message.
    "tenants:fill": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    "tenants:cancel_delete": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # The plan form; sent without a plan it comes back with its error.
    "tenants:plan": (True, (L, 200, 404, 200, 403), (L, 400, 404, 400, 403)),
    # Only the requester edits a rejected request; this one isn't rejected: back to its page.
    "tenants:resubmit": (True, (L, 302, 404, 404, 403), (L, 302, 404, 404, 403)),
    # A comment with no text comes back on the page with its error.
    "tenants:comment": (True, (L, 405, 405, 405, 403), (L, 400, 404, 400, 403)),
    # An empty name comes back as a 400 to the owner and admins; removing nobody is a message.
    "tenants:member_add": (True, (L, 405, 405, 405, 403), (L, 400, 404, 400, 403)),
    "tenants:member_remove": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # Custom host names: an empty one comes back as a 400; checking or removing none, a message.
    "tenants:host_add": (True, (L, 405, 405, 405, 403), (L, 400, 404, 400, 403)),
    "tenants:host_check": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    "tenants:host_remove": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # The owner or an admin switches the content pipeline; this tenant is a request: a message.
    "tenants:pipeline": (True, (L, 405, 405, 405, 403), (L, 302, 404, 302, 403)),
    # The pipeline's signed confirmation: a session is no signature, so everyone is refused.
    "pipeline-hook": (False, (405, 405, 405, 405, 405), (401, 401, 401, 401, 401)),
    "tenants:approvals": (False, (L, 403, 403, 200, 200), _),
    "tenants:approval": (True, (L, 403, 403, 200, 200), (L, 403, 403, 302, 403)),
    "profile": (False, (L, 200, 200, 200, 200), _),
    # Everybody signed in makes their own API tokens; a made-up token id is refused by message.
    "api_tokens:list": (False, (L, 200, 200, 200, 200), (L, 400, 400, 400, 400)),
    "api_tokens:revoke": ({"pk": 999999}, (L, 405, 405, 405, 405), (L, 302, 302, 302, 302)),
    "admin:index": (False, (L, L, L, 200, 200), _),
    "account_login": (False, (200, 302, 302, 302, 302), _),
    "account_logout": (False, (302, 200, 200, 200, 200), (302, 302, 302, 302, 302)),
    # The sign-in callback (portal.auth.oidc): no such provider while Authentik is unset.
    "openid_connect_callback": (
        {"provider_id": "authentik"},
        (404, 404, 404, 404, 404),
        (404, 404, 404, 404, 404),
    ),
}


def _named_patterns(resolver: URLResolver, namespace: str = "", urlconf: str = ""):
    """(full name, module) of every named pattern: the URL module defining it, or failing
    that (patterns included as a list, like the admin's) the module of its view."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            module = pattern.urlconf_name
            inner = ":".join(filter(None, (namespace, pattern.namespace)))
            yield from _named_patterns(pattern, inner, module if isinstance(module, str) else "")
        elif isinstance(pattern, URLPattern) and pattern.name:
            full = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield full, urlconf or getattr(pattern.callback, "__module__", "")


def test_every_url_of_the_portal_is_in_the_table():
    root = get_resolver()
    ours = {
        name
        for name, module in _named_patterns(root, urlconf=root.urlconf_name)
        # The admin's pages are Django's, even where portal.adminfilters wraps their change
        # lists (tests/portal/test_admin_input.py covers those).
        if module.startswith(OUR_URLCONFS) and not name.startswith("admin:")
    }
    assert {"home", "healthz", "tenants:detail", "tenants:approval"} <= ours
    missing = (ours | ALSO) - set(TABLE)
    assert not missing, f"add these URLs to the role table: {sorted(missing)}"
    assert not set(TABLE) - (ours | ALSO), "the table names URLs that no longer exist"


@pytest.fixture
def people(requester, other_requester, approver, auditor):
    return {
        "requester": requester,
        "other_requester": other_requester,
        "approver": approver,
        "auditor": auditor,
    }


def _cases():
    for name, (needs_tenant, get, post) in TABLE.items():
        for method, expected in (("GET", get), ("POST", post)):
            if expected is None:
                continue
            for role, status in zip(ROLES, expected, strict=True):
                yield pytest.param(
                    name, needs_tenant, method, role, status, id=f"{name}-{method}-{role}"
                )


@pytest.mark.parametrize(("name", "needs_tenant", "method", "role", "status"), list(_cases()))
def test_each_role_gets_the_expected_answer(
    client, people, name, needs_tenant, method, role, status
):
    tenant = TenantFactory(owner=people["requester"])
    kwargs = needs_tenant if isinstance(needs_tenant, dict) else {}
    url = reverse(name, args=[tenant.pk] if needs_tenant is True else [], kwargs=kwargs)
    if role != "anonymous":
        client.force_login(people[role])

    response = client.get(url) if method == "GET" else client.post(url, {})

    if status == L:
        assert response.status_code == 302, response
        assert "login" in response["Location"]
    else:
        assert response.status_code == status, response
        if status == 404:
            assert "not yours to see" in response.content.decode()
