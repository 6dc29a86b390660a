"""Clones to staging: making one, filling it again, promoting it into the original."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from portal import ratelimit, roles
from portal.errors import ApplicationError
from tenants import clone, promote, selectors
from tenants.forms import CloneForm
from tenants.views.base import ActorMixin, _add_errors, _TenantActionView


class TenantCloneView(ActorMixin, View):
    """Clone to staging: a new tenant, requested like any, filled from the original's backup."""

    template = "tenants/clone.html"

    def _render(self, request, tenant, form, status: int = 200):
        context = {"tenant": tenant, "form": form, "is_approver": roles.is_approver(request.user)}
        return render(request, self.template, context, status=status)

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        initial = {"slug": clone.default_clone_slug(tenant)}
        return self._render(request, tenant, CloneForm(initial=initial, source=tenant))

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        form = CloneForm(request.POST, source=tenant)
        if not form.is_valid():
            return self._render(request, tenant, form, status=400)
        data = form.cleaned_data
        try:
            # A clone is a new tenant: the same limits as a request.
            ratelimit.limit_actions(request.user)
            ratelimit.limit_filing(request.user)
            made = clone.tenant_clone(
                source=tenant,
                actor=request.user,
                slug=data["slug"],
                host=data["host"],
                backup_id=data["backup"],
            )
        except ratelimit.RateLimited as exc:
            form.add_error(None, exc.message)
            return ratelimit.with_retry_after(self._render(request, tenant, form, 429), exc)
        except ApplicationError as exc:
            # The form again with what was typed: the refusal (a deletion waiting, the tenant
            # busy) may pass, and the name and host chosen are not to be typed twice.
            form.add_error(None, exc.message)
            return self._render(request, tenant, form, status=409)
        except ValidationError as exc:
            _add_errors(form, exc)
            return self._render(request, tenant, form, status=400)
        messages.success(
            request,
            f"The clone {made.slug} of {tenant.slug} was requested: once a platform admin "
            "approves it, it is built and filled from the backup.",
        )
        return redirect(made)


class TenantPromoteView(ActorMixin, View):
    """Promoting overwrites the original: the user types the original's name on a page."""

    template = "tenants/confirm_promote.html"

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        if tenant.clone_of is None:
            messages.error(request, "Only a clone can be promoted, and this tenant is no clone.")
            return redirect(tenant)
        return render(request, self.template, {"tenant": tenant, "original": tenant.clone_of})

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        typed = request.POST.get("confirm_slug", "")
        try:
            ratelimit.limit_actions(request.user)
            promote.tenant_promote(tenant=tenant, actor=request.user, confirm_slug=typed)
        except ValidationError as exc:
            error = " ".join(exc.message_dict.get("confirm_slug", exc.messages))
            context = {"tenant": tenant, "original": tenant.clone_of, "error": error}
            return render(request, self.template, {**context, "typed": typed}, status=400)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return ratelimit.with_retry_after(redirect(tenant), exc)
        original = tenant.clone_of
        messages.success(
            request,
            f"Promoting {tenant.slug} into {original.slug}: a backup of each first; this page "
            "shows how it goes.",
        )
        return redirect(original)


class TenantFillAgainView(_TenantActionView):
    def act(self, request, tenant):
        clone.clone_fill_again(tenant=tenant, actor=request.user)
        messages.success(
            request, "Copying the original's content again; this page shows how it goes."
        )
