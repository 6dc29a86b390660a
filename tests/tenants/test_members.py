"""Members of a tenant: the owner (or an admin) adds and removes who may sign in, audited."""

import pytest
from django.urls import reverse

from provisioning.models import Run
from provisioning.spec import spec_for
from tenants.models import AuditEvent, Tenant, TenantMember
from tests.factories import TenantFactory

Action = AuditEvent.Action


@pytest.fixture
def tenant(requester):
    return TenantFactory(owner=requester, state=Tenant.State.READY, slug="acme")


def add(client, tenant, username):
    return client.post(reverse("tenants:member_add", args=[tenant.pk]), {"username": username})


def test_the_owner_adds_a_member_who_reaches_the_spec_with_an_audited_run(
    client_for, requester, tenant
):
    client = client_for(requester)

    response = add(client, tenant, " mark ")

    assert response.status_code == 302
    assert spec_for(tenant).members == ("mark",)
    assert spec_for(tenant).owner_username == "alice"
    event = AuditEvent.objects.get(action=Action.TENANT_MEMBER_ADDED)
    assert (event.actor, event.after, event.object_id) == (
        requester,
        {"member": "mark"},
        str(tenant.pk),
    )
    # The change reaches the tenant's Authentik group through a run of the sso step.
    assert Run.objects.get(tenant=tenant).reason == "members"
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "mark" in page and "Remove mark" in page


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Give the person&#x27;s Authentik user name"),
        ("two words", "Give the person&#x27;s Authentik user name"),
        ("alice", "The owner signs in already"),
    ],
)
def test_a_wrong_name_comes_back_as_typed_with_why(client_for, requester, tenant, typed, said):
    response = add(client_for(requester), tenant, typed)

    assert response.status_code == 400
    page = response.content.decode()
    assert said in page
    assert f'value="{typed}"' in page
    assert not TenantMember.objects.exists()


def test_the_same_person_twice_is_refused(client_for, requester, tenant):
    client = client_for(requester)
    add(client, tenant, "mark")
    response = add(client, tenant, "MARK")
    assert response.status_code == 400
    assert "MARK is already a member." in response.content.decode()


def test_removing_is_audited_and_runs_the_step_again(client_for, requester, tenant):
    client = client_for(requester)
    add(client, tenant, "mark")
    member = TenantMember.objects.get()

    response = client.post(
        reverse("tenants:member_remove", args=[tenant.pk]), {"member": member.pk}
    )

    assert response.status_code == 302
    assert spec_for(tenant).members == ()
    event = AuditEvent.objects.get(action=Action.TENANT_MEMBER_REMOVED)
    assert event.before == {"member": "mark"}
    again = client.post(reverse("tenants:member_remove", args=[tenant.pk]), {"member": member.pk})
    assert again.status_code == 302  # a message, not a 500
    assert AuditEvent.objects.filter(action=Action.TENANT_MEMBER_REMOVED).count() == 1


def test_only_the_owner_or_an_admin_changes_members(
    client_for, tenant, other_requester, approver, auditor
):
    # Someone else's tenant is not theirs to see at all.
    assert add(client_for(other_requester), tenant, "mark").status_code == 404
    assert add(client_for(auditor), tenant, "mark").status_code == 403
    assert not TenantMember.objects.exists()
    assert add(client_for(approver), tenant, "mark").status_code == 302
    assert TenantMember.objects.get().added_by == approver


def test_a_deleted_site_keeps_its_members_unchanged(client_for, requester):
    gone = TenantFactory(owner=requester, state=Tenant.State.DELETED, desired_present=False)
    response = add(client_for(requester), gone, "mark")
    assert response.status_code == 400
    assert "This site is gone or going" in response.content.decode()


def test_the_owner_is_named_as_authentik_knows_them(requester, tenant):
    """A portal user name given because the claimed one was taken here is not their Authentik
    user name: the group gets the claim's."""
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.create(
        user=requester,
        provider="authentik",
        uid="hashed-sub",
        extra_data={"userinfo": {"preferred_username": "alice.k"}},
    )
    assert spec_for(tenant).owner_username == "alice.k"


def test_auditors_see_the_members_in_the_admin_and_change_nothing(client_for, auditor, tenant):
    TenantMember.objects.create(tenant=tenant, username="mark")
    client = client_for(auditor)
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "mark" in page.content.decode()
    assert client.post(url, {}).status_code == 403
