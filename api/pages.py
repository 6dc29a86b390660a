"""The profile page of personal API tokens: make one (shown once), see their use, revoke."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from api import tokens
from api.forms import TokenCreateForm, add_service_errors
from api.models import ApiToken
from portal import ratelimit
from portal.errors import ApplicationError


class ApiTokenListView(LoginRequiredMixin, View):
    template = "api/tokens.html"

    def _render(self, request, form, *, created=None, plain="", status=200):
        context = {
            "form": form,
            "tokens": ApiToken.objects.filter(user=request.user),
            "created": created,
            "plain": plain,
            "api_docs": reverse("api:docs"),
        }
        response = render(request, self.template, context, status=status)
        # The page that shows a new token must not sit in any cache.
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request):
        return self._render(request, TokenCreateForm())

    def post(self, request):
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                # Each token writes an audit row: a loop must not grow the trail without end.
                ratelimit.limit_actions(request.user)
                row, plain = tokens.token_create(user=request.user, **form.cleaned_data)
            except ratelimit.RateLimited as exc:
                form.add_error(None, exc.message)
                page = self._render(request, form, status=429)
                return ratelimit.with_retry_after(page, exc)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                # Shown in this answer only: not in a message, a redirect or the session.
                return self._render(request, TokenCreateForm(), created=row, plain=plain)
        return self._render(request, form, status=400)


class ApiTokenRevokeView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        try:
            ratelimit.limit_actions(request.user)
            row = tokens.token_revoke(user=request.user, token_id=pk)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return ratelimit.with_retry_after(redirect("api_tokens:list"), exc)
        messages.success(request, f"The token {row.name} was revoked; it no longer works.")
        return redirect("api_tokens:list")
