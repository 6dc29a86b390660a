"""Webhook endpoints and their delivery log in the Django admin (platform admins)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.template.response import TemplateResponse

from api.forms import add_service_errors
from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks import addresses, delivery, services
from api.webhooks.events import EVENT_TYPES
from portal import roles
from portal.errors import ApplicationError


class EndpointAddForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text=addresses.HELP)
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "tenant", "events"]


def _refused(form: type[forms.ModelForm], exc: ValidationError) -> type[forms.ModelForm]:
    """`form`, invalid with the service's refusal of what was submitted."""

    class Refused(form):
        def clean(self):
            data = super().clean()
            if not self.errors:  # the form's own check may refuse it again by now
                add_service_errors(self, exc)
            return data

    return Refused


class _ChangeRefused(Exception):
    """The service refused a change the form had let through: changeform_view shows it."""

    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.error = error


class EndpointChangeForm(forms.ModelForm):
    """A change is held to the service's rules (a changed URL to those of a new one)."""

    url = forms.URLField(max_length=500, assume_scheme="https", help_text=addresses.HELP)
    actor = None  # who submits it: set by the admin (WebhookEndpointAdmin.get_form)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "tenant", "events", "is_active"]

    def changes(self) -> dict:
        return {f: self.cleaned_data[f] for f in self.changed_data if f in self.cleaned_data}

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.endpoint_update_check(
                    actor=self.actor, endpoint=self.instance, **self.changes()
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
            except ApplicationError as exc:
                self.add_error(None, exc.message)
        return data


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = [
        "created_at",
        "event_type",
        "status",
        "attempts",
        "response_status",
        "last_error",
    ]
    ordering = ["-id"]
    show_change_link = True


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "tenant", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = [
        "created_by",
        "created_at",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
    ]
    fields = ["url", "description", "tenant", "events", "is_active", *readonly_fields]
    inlines = [DeliveryInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["enable"]

    def get_form(self, request, obj=None, **kwargs):
        form = (
            EndpointAddForm
            if obj is None
            else type("EndpointChangeForm", (EndpointChangeForm,), {"actor": request.user})
        )
        refusal = getattr(request, "endpoint_refusal", None)
        kwargs["form"] = _refused(form, refusal) if refusal else form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        # Only a change comes here (add_view saves through endpoint_create): audited by the service.
        try:
            services.endpoint_update(actor=request.user, endpoint=obj, **form.changes())
        except ValidationError as exc:
            raise _ChangeRefused(exc) from exc
        except ApplicationError as exc:
            raise _ChangeRefused(ValidationError({NON_FIELD_ERRORS: [exc.message]})) from exc
        obj.refresh_from_db()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ChangeRefused as refused:
            # The service looks the URL up again after the form did, and a name's DNS may have
            # moved between: the page again with its refusal (nothing was saved), not a 500.
            request.endpoint_refusal = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_model(self, request, obj):
        services.endpoint_delete(actor=request.user, endpoint=obj)

    def delete_queryset(self, request, queryset):
        # One by one, so each removal is on record.
        for endpoint in queryset.select_related("tenant"):
            services.endpoint_delete(actor=request.user, endpoint=endpoint)

    def get_fields(self, request, obj=None):
        return ["url", "description", "tenant", "events"] if obj is None else self.fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        form = EndpointAddForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = services.endpoint_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                request.endpoint_refusal = exc
            except ApplicationError as exc:
                request.endpoint_refusal = ValidationError({NON_FIELD_ERRORS: [exc.message]})
            else:
                # Shown in this answer only: not in a message, the session or the database.
                context = {
                    **self.admin_site.each_context(request),
                    "endpoint": endpoint,
                    "secret": secret,
                    "opts": self.model._meta,
                    "title": "Webhook secret",
                }
                return TemplateResponse(request, "admin/api/webhook_secret.html", context)
        # The admin's own page, with the errors; its form carries the service's refusal, else
        # a form valid by itself would be saved past the service.
        return super().add_view(request, form_url, extra_context)

    @admin.action(description="Enable the selected endpoints again", permissions=["change"])
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_enable(actor=request.user, endpoint=endpoint)
        messages.success(request, "Enabled; failures are counted from zero again.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "endpoint", "status", "attempts", "response_status"]
    list_filter = ["status", "event_type"]
    readonly_fields = [
        "endpoint",
        "message_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "created_at",
        "last_attempt_at",
        "delivered_at",
    ]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request):
        return roles.is_approver(request.user)

    @admin.action(description="Send the selected deliveries again", permissions=["resend"])
    def resend(self, request, queryset):
        for item in queryset:
            delivery.resend(item)
        messages.success(request, f"{queryset.count()} deliveries queued again.")
