"""The conversation on a request: comments both ways, admins' notes, audited and mailed."""

from django.core import mail
from django.urls import reverse

from tenants.models import AuditEvent
from tests.factories import TenantFactory


def test_requester_and_admin_talk_on_the_request(
    client, requester, approver, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_URL = "https://portal.example.com"
    tenant = TenantFactory(owner=requester, slug="chat", admin_email="web@example.org")
    url = reverse("tenants:comment", args=[tenant.pk])
    client.force_login(requester)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"text": "Is the large plan <really> needed?"}, follow=True)
    page = response.content.decode()
    assert "Comment sent." in page and "Is the large plan &lt;really&gt; needed?" in page
    [to_admins] = mail.outbox
    assert to_admins.to == ["carol@example.com"]
    assert "alice wrote on the request for chat" in to_admins.body
    assert "Is the large plan <really> needed?" in to_admins.body
    assert f"https://portal.example.com/tenants/{tenant.pk}/" in to_admins.body

    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"text": "Yes: 40 GB.", "back": "approval"})
    assert response["Location"] == reverse("tenants:approval", args=[tenant.pk])
    to_requester = mail.outbox[1]
    assert sorted(to_requester.to) == ["alice@example.com", "web@example.org"]
    page = client.get(reverse("tenants:approval", args=[tenant.pk])).content.decode()
    assert "Is the large plan" in page and "Yes: 40 GB." in page
    events = AuditEvent.objects.filter(action="tenant.commented").order_by("id")
    assert [(e.actor_name, e.message) for e in events] == [
        ("alice", "Is the large plan <really> needed?"),
        ("carol", "Yes: 40 GB."),
    ]


def test_admins_notes_stay_with_admins(
    client,
    requester,
    approver,
    second_approver,
    auditor,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    tenant = TenantFactory(owner=requester, slug="noted")
    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("tenants:comment", args=[tenant.pk]),
            {"text": "Owner asked twice before", "admins_only": "1"},
        )
    [note] = mail.outbox
    assert note.to == ["dave@example.com"]  # the other admins, not the author, not the owner
    for user, sees in ((second_approver, True), (auditor, True), (requester, False)):
        client.force_login(user)
        page = client.get(tenant.get_absolute_url()).content.decode()
        assert ("Owner asked twice before" in page) is sees, user
    response = client.get(f"/api/v1/tenants/{tenant.pk}/events/")
    assert response.status_code == 200
    assert "Owner asked twice before" not in response.content.decode()


def test_a_refused_comment_comes_back_as_typed(client, requester, auditor):
    tenant = TenantFactory(owner=requester, slug="long")
    client.force_login(requester)
    url = reverse("tenants:comment", args=[tenant.pk])
    response = client.post(url, {"text": "x" * 2001})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Keep it to 2000 characters; this has 2001." in page and "x" * 2001 in page
    assert client.post(url, {"text": "   "}).status_code == 400
    # A requester can't write notes; an auditor can't take part.
    client.post(url, {"text": "sneaky", "admins_only": "1"})
    client.force_login(auditor)
    assert client.post(url, {"text": "hello"}).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["tenant.commented", "tenant.noted"]).exists()


def test_a_comment_with_a_nul_byte_is_refused_in_words(client, requester):
    tenant = TenantFactory(owner=requester)
    client.force_login(requester)

    response = client.post(reverse("tenants:comment", args=[tenant.pk]), {"text": "hi\x00there"})

    assert response.status_code == 400
    assert "A comment can&#x27;t contain a NUL character; remove it." in response.content.decode()
    assert not AuditEvent.objects.filter(action="tenant.commented").exists()
