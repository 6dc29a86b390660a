"""The profile page: who you are to the portal, your role, and where to change your account."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal import roles

# What each role may do, in a sentence for the page.
ROLE_WORDS = {
    roles.Role.REQUESTER: "You request WordPress tenants and look after your own.",
    roles.Role.APPROVER: "You approve requests and run every tenant; not your own requests.",
    roles.Role.AUDITOR: "You read every tenant and the audit trail; you change nothing.",
}


@login_required
def profile(request):
    role = roles.role_of(request.user)
    context = {
        "role": role,
        "role_words": ROLE_WORDS[role],
        "tenant_count": request.user.tenants.count(),
        # With Authentik, name, e-mail and password live there; local accounts change them here.
        "local_account": request.user.has_usable_password(),
    }
    return render(request, "profile.html", context)
