"""The forms that make a personal API token and a webhook endpoint; service errors onto them."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from api.tokens import token_problems


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=60,
        help_text="What uses it, e.g. ci-deploy; shown in the audit trail beside your name.",
        error_messages={"required": "Give the token a name, e.g. what script uses it."},
    )
    # The range is the service's to check (api.tokens.token_create), in its own words.
    days = forms.IntegerField(
        label="Expires after (days)",
        initial=90,
        error_messages={"required": "Say how many days the token should work."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        most = settings.PORTAL_API_TOKEN_MAX_DAYS
        self.fields["days"].widget.attrs.update(min=1, max=most)
        self.fields["days"].help_text = f"Between 1 and {most} days."

    def clean(self):
        # The service's rules beside the fields' own: one submit names every wrong field.
        data = super().clean()
        problems = token_problems(name=data.get("name"), days=data.get("days"))
        for field, messages in problems.items():
            if field not in self.errors:
                self.add_error(field, messages)
        return data


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: each field's under it, the rest on top."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
