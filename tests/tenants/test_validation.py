"""Each rule of the request form, with the sentence the user reads next to the field."""

import pytest
from django.urls import reverse

from tests.factories import TenantFactory, UserFactory, plan, request_form_data

URL = reverse("tenants:request")


form_data = request_form_data


def field_errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("ab", "Use 3 to 30 characters (this one has 2)."),
        ("a" * 31, "Use 3 to 30 characters (this one has 31)."),
        ("my_blog", "Use only lower-case letters, digits and hyphens"),
        ("-blog", "starting and ending with a letter or digit"),
        ("blog-", "starting and ending with a letter or digit"),
        ("kube-system", "“kube-system” is reserved for the platform; pick another."),
        ("kube-anything", "“kube-anything” is reserved"),
        ("default", "“default” is reserved"),
        ("admin", "“admin” is reserved"),
    ],
)
def test_slug_rules(requester, client_for, slug, message):
    client = client_for(requester)
    response = client.post(URL, form_data(slug=slug, display_name="Kept title"))
    assert response.status_code == 400
    assert any(message in error for error in field_errors(response, "slug")), response.context[
        "form"
    ].errors
    page = response.content.decode()
    # The error is shown next to the field and nothing the user typed is lost.
    assert 'class="field has-error"' in page
    assert 'value="Kept title"' in page
    assert 'value="me@example.com"' in page


def test_slug_taken_case_insensitively(requester, client_for):
    TenantFactory(slug="shop", host="wordpress-shop.local")
    response = client_for(requester).post(URL, form_data(slug="SHOP"))
    assert field_errors(response, "slug") == [
        "“shop” is already taken (or still being deleted); pick another."
    ]


def test_slug_of_a_tenant_being_deleted_is_still_taken(requester, client_for):
    TenantFactory(slug="gone", state="deleting")
    response = client_for(requester).post(URL, form_data(slug="gone"))
    assert "already taken (or still being deleted)" in field_errors(response, "slug")[0]


def test_slug_of_a_deleted_or_rejected_tenant_is_free_again(requester, client_for):
    TenantFactory(slug="again", state="deleted")
    TenantFactory(slug="again", state="rejected")
    response = client_for(requester).post(URL, form_data(slug="again"))
    assert response.status_code == 302


@pytest.mark.parametrize(
    "host", ["no_underscores.example.com", "nodot", "-bad.example.com", "a..b.com", "x.123"]
)
def test_host_must_be_a_dns_name(requester, client_for, host):
    response = client_for(requester).post(URL, form_data(host=host))
    assert field_errors(response, "host") == [
        "Enter a host name such as blog.example.com: letters, digits and hyphens in parts "
        "separated by dots."
    ]
    assert f'value="{host}"' in response.content.decode()


def test_host_already_in_use(requester, client_for):
    TenantFactory(slug="other", host="blog.example.com")
    response = client_for(requester).post(URL, form_data(host="Blog.Example.com."))
    assert field_errors(response, "host") == [
        "blog.example.com is already in use by another tenant."
    ]


def test_default_host_follows_the_pattern_and_counts_as_taken(requester, client_for):
    TenantFactory(slug="elsewhere", host="wordpress-myblog.local")
    response = client_for(requester).post(URL, form_data(slug="myblog"))
    assert field_errors(response, "host") == [
        "wordpress-myblog.local is already in use by another tenant."
    ]


def test_version_must_be_offered(requester, client_for):
    response = client_for(requester).post(URL, form_data(wordpress_version="5.0"))
    assert field_errors(response, "wordpress_version") == [
        "Choose one of the offered versions: 6.9, 6.8, 6.7, 6.6."
    ]


def test_inactive_plan_is_not_offered(requester, client_for):
    medium = plan("medium")
    medium.is_active = False
    medium.save()
    client = client_for(requester)
    assert "Medium —" not in client.get(URL).content.decode()
    response = client.post(URL, form_data(plan=medium.pk))
    assert field_errors(response, "plan")


def test_at_most_n_open_requests_per_requester(requester, client_for, settings):
    settings.PORTAL_MAX_TENANTS_PER_USER = 2
    TenantFactory(owner=requester)
    TenantFactory(owner=requester, state="ready")
    TenantFactory(owner=requester, state="rejected")  # doesn't count
    TenantFactory(owner=UserFactory(username="someone"))  # not theirs
    response = client_for(requester).post(URL, form_data())
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "You already have 2 open requests or tenants, the most one person may have. "
        "Delete one or ask a platform admin."
    ]
    assert 'value="myblog"' in response.content.decode()


def test_missing_fields_are_named(requester, client_for):
    response = client_for(requester).post(URL, {"slug": "", "admin_email": "not-an-address"})
    errors = response.context["form"].errors
    assert errors["slug"] == ["This field is required."]
    assert errors["admin_email"] == ["Enter a valid email address."]
    assert 'value="not-an-address"' in response.content.decode()


def test_valid_request_is_filed_with_the_default_host(requester, client_for):
    response = client_for(requester).post(URL, form_data(slug="  MyBlog "), follow=True)
    tenant = response.context["tenant"]
    assert (tenant.slug, tenant.host) == ("myblog", "wordpress-myblog.local")
    assert tenant.state == "requested"
    assert "Your request for myblog was filed" in response.content.decode()
