"""Forms for requesting a tenant and deciding on requests."""

from django import forms
from django.conf import settings

from tenants import pipeline, validation
from tenants.models import Plan, Tenant
from tenants.request_checks import request_problems
from tenants.validation import SLUG_LENGTH, SLUG_MAX, default_host


class TenantRequestForm(forms.Form):
    """The request, checked whole: the service's rules run beside the fields' own, so one
    submit names every wrong field (a bad e-mail no longer hides a taken name)."""

    slug = forms.CharField(
        label="Name",
        # Longer than the rule allows, so the user reads the rule's own message, not Django's;
        # past the cap too (a cap of 60 contradicted the rule's 30).
        max_length=SLUG_MAX * 2,
        error_messages={"max_length": SLUG_LENGTH},
        help_text="3–30 lower-case letters, digits and hyphens; becomes part of the host name.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    display_name = forms.CharField(label="Site title", max_length=100)
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(is_active=True),
        empty_label=None,
        label="Plan",
        # Also what a retired plan's id gets: Django's own words don't say what to do.
        error_messages={"invalid_choice": "Choose one of the offered plans."},
    )
    wordpress_version = forms.ChoiceField(label="WordPress version")
    admin_email = forms.EmailField(label="Admin e-mail")
    host = forms.CharField(
        label="Custom host",
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )

    content_pipeline = forms.ChoiceField(
        label="AI content pipeline",
        required=False,
        choices=[("", "As the plan says"), ("on", "On"), ("off", "Off")],
        help_text=(
            "Lets the platform's OpenWebUI publish to the site (WordPress "
            f"{pipeline.ABILITIES_MIN_WORDPRESS} or later); you can switch it later."
        ),
        error_messages={"invalid_choice": "Choose on, off or as the plan says."},
    )

    def __init__(self, *args, owner=None, exclude_pk=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner, self.exclude_pk = owner, exclude_pk
        versions = settings.PORTAL_WORDPRESS_VERSIONS
        self.fields["wordpress_version"].choices = [(v, v) for v in versions]
        self.fields["wordpress_version"].error_messages["invalid_choice"] = (
            f"Choose one of the offered versions: {', '.join(versions)}."
        )
        self.fields["plan"].label_from_instance = lambda p: f"{p.title} — {p.summary}"
        self.fields["host"].help_text = (
            f"Leave empty for the platform's default, {default_host('<name>')}. A domain of "
            "yours needs a DNS TXT record before approval; the tenant page shows which."
        )

    def clean_content_pipeline(self) -> bool | None:
        return {"on": True, "off": False}.get(self.cleaned_data.get("content_pipeline") or "")

    def clean(self):
        data = super().clean()
        # What a field already refused is not judged again; the rest is, all of it.
        slug = validation.normalize_slug(data["slug"]) if "slug" in data else None
        host = None
        if "host" in data:
            host = validation.normalize_host(data["host"]) or (
                default_host(slug) if slug is not None else None
            )
        problems = request_problems(
            owner=self.owner,
            slug=slug,
            host=host,
            plan=data.get("plan"),
            wordpress_version=data.get("wordpress_version"),
            exclude_pk=self.exclude_pk,
        )
        for field, messages in problems.items():
            if field == "__all__" or field not in self.errors:
                self.add_error(None if field == "__all__" else field, messages)
        unavailable = pipeline.pipeline_unavailable(data.get("wordpress_version") or "")
        if data.get("content_pipeline") and "wordpress_version" in data and unavailable:
            self.add_error("content_pipeline", unavailable)
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The requester reads this.",
        error_messages={"required": "Say why, so the requester knows what to change."},
    )


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(is_active=True),
        empty_label=None,
        label="New plan",
        error_messages={"invalid_choice": "Choose one of the offered plans."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].label_from_instance = lambda p: f"{p.title} — {p.summary}"


class CloneForm(forms.Form):
    """A clone's own name and host, and which backup of the original fills it."""

    slug = forms.CharField(
        label="Name of the clone",
        max_length=SLUG_MAX * 2,
        error_messages={"max_length": SLUG_LENGTH},
        required=False,
        help_text="3–30 lower-case letters, digits and hyphens; empty: <name>-staging.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    host = forms.CharField(
        label="Custom host",
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    backup = forms.TypedChoiceField(
        label="Content from",
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Choose one of the listed backups."},
    )

    def __init__(self, *args, source, **kwargs):
        super().__init__(*args, **kwargs)
        done = source.backups.filter(state="done")[:20]
        self.fields["backup"].choices = [
            ("", "A fresh backup, taken once the clone is built"),
            *((b.pk, f"The backup of {b.created_at:%Y-%m-%d %H:%M} UTC") for b in done),
        ]
        self.fields[
            "host"
        ].help_text = f"Leave empty for the platform's default, {default_host('<name>')}."


class BackupScheduleForm(forms.Form):
    """How often the beat backs the tenant up, at which hour (UTC) for daily or weekly, and on
    which day for weekly."""

    frequency = forms.ChoiceField(
        label="Back up",
        choices=Tenant.BackupFrequency.choices,
        error_messages={
            "required": "Choose how often to back up.",
            "invalid_choice": "Choose one of the listed frequencies.",
        },
    )
    hour = forms.TypedChoiceField(
        label="At (UTC)",
        coerce=int,
        required=False,
        empty_value=None,
        choices=[("", "Any time of day"), *((h, f"{h:02d}:00") for h in range(24))],
        help_text="Daily and weekly backups only; empty: a day after the last one (daily), "
        "midnight of its day (weekly).",
        error_messages={"invalid_choice": "Choose an hour from 0 to 23 (UTC), or none."},
    )
    weekday = forms.ChoiceField(
        label="On",
        required=False,
        choices=[("", "Sunday, if weekly"), *Tenant.Weekday.choices],
        help_text="Weekly backups only; empty: Sunday.",
        error_messages={"invalid_choice": "Choose a day of the week, Monday to Sunday."},
    )

    def clean(self):
        from tenants.backupschedule import choice_problems

        data = super().clean()
        if {"frequency", "hour", "weekday"} <= data.keys():
            for field, problem in choice_problems(**data).items():
                self.add_error(field, problem)
        return data
