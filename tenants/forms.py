"""Forms for requesting a tenant and deciding on requests."""

from django import forms
from django.conf import settings

from tenants.models import Plan


class TenantRequestForm(forms.Form):
    slug = forms.CharField(
        label="Name",
        max_length=64,
        help_text="3–30 lower-case letters, digits and hyphens; becomes part of the host name.",
    )
    display_name = forms.CharField(label="Site title", max_length=100)
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(is_active=True), empty_label=None, label="Plan"
    )
    wordpress_version = forms.ChoiceField(label="WordPress version")
    admin_email = forms.EmailField(label="Admin e-mail")
    host = forms.CharField(
        label="Custom host",
        max_length=253,
        required=False,
        help_text="Leave empty for the platform's default host name.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wordpress_version"].choices = [
            (v, v) for v in settings.PORTAL_WORDPRESS_VERSIONS
        ]
        self.fields["plan"].label_from_instance = lambda p: f"{p.title} — {p.summary}"


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The requester reads this.",
    )
