"""All of a form's errors in one round: several bad fields, every message on the one page."""

from html import escape

from django.urls import reverse

from api.models import ApiToken
from tenants.models import Tenant
from tests.factories import TenantFactory, request_form_data

REQUEST_URL = reverse("tenants:request")


def test_a_request_with_many_wrong_fields_names_them_all_at_once(client_for, requester):
    TenantFactory(host="taken.example.com")
    bad = request_form_data(
        slug="admin",  # reserved: a rule of the service's
        admin_email="not-an-address",  # the field's own check
        host="taken.example.com",  # in use: a database check
        wordpress_version="1.0",  # not offered
        display_name="",
    )
    response = client_for(requester).post(REQUEST_URL, bad)

    assert response.status_code == 400
    errors = {k: list(v) for k, v in response.context["form"].errors.items()}
    assert set(errors) == {"slug", "admin_email", "host", "wordpress_version", "display_name"}
    page = response.content.decode()
    for sentence in (
        "“admin” is reserved for the platform; pick another.",
        "Enter a valid email address.",
        "taken.example.com is already in use by another tenant.",
        "Choose one of the offered versions",
        "This field is required.",
    ):
        assert escape(sentence) in page, sentence
    assert not Tenant.objects.filter(owner=requester).exists()


def test_the_per_person_limit_comes_with_the_fields_errors(client_for, requester, settings):
    settings.PORTAL_MAX_TENANTS_PER_USER = 1
    TenantFactory(owner=requester, slug="first")
    response = client_for(requester).post(
        REQUEST_URL, request_form_data(slug="first", admin_email="nope")
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert "the most one person may have" in " ".join(form.non_field_errors())
    assert form.errors["slug"] == [
        "“first” is already taken (or still being deleted); pick another."
    ]
    assert form.errors["admin_email"] == ["Enter a valid email address."]


def test_an_edited_request_names_every_wrong_field_at_once(client_for, requester):
    TenantFactory(slug="other", host="other.example.com")
    mine = TenantFactory(owner=requester, slug="mine", state=Tenant.State.REJECTED)
    bad = request_form_data(slug="other", host="other.example.com", admin_email="x@")
    response = client_for(requester).post(reverse("tenants:resubmit", args=[mine.pk]), bad)

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"slug", "host", "admin_email"}
    # Its own name and host are not "taken" by itself.
    ok = client_for(requester).post(
        reverse("tenants:resubmit", args=[mine.pk]),
        request_form_data(slug="mine", host=mine.host, admin_email="x@"),
    )
    assert set(ok.context["form"].errors) == {"admin_email"}


def test_a_token_form_with_two_wrong_fields_names_both(client_for, requester, settings):
    settings.PORTAL_API_TOKEN_MAX_DAYS = 30
    response = client_for(requester).post(reverse("api_tokens:list"), {"name": "", "days": 31})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Give the token a name, e.g. what script uses it." in page
    assert "A token lives between 1 and 30 days." in page
    assert not ApiToken.objects.exists()
