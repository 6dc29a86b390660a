"""Error pages in the portal's own layout, saying in words what went wrong and what to do."""

import logging

from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import render

log = logging.getLogger(__name__)

# Fields never written back into a page, even the user's own (CSRF failure keeps the rest).
_NEVER_KEPT = ("csrfmiddlewaretoken", "password", "token", "secret")

# Last resort when even the layout can't render (the database down under the context
# processors): plain HTML, still in words.
_BARE_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>The error was logged; please try again in a moment.</p>"
    '<p><a href="/">Back to the portal</a></p></html>'
)


def _page(request, status: int, title: str, text: str, **extra):
    context = {"title": title, "text": text, **extra}
    return render(request, "error.html", context, status=status)


def bad_request(request, exception=None):
    return _page(request, 400, "Bad request", "The request could not be understood.")


def forbidden(request, exception=None):
    return _page(request, 403, "Not allowed", "Your role does not allow this action.")


def not_found(request, exception=None):
    return _page(request, 404, "Not found", "There is nothing here, or it is not yours to see.")


def server_error(request):
    try:
        return _page(
            request, 500, "Something went wrong", "The error was logged; please try again later."
        )
    except Exception:
        log.exception("the error page itself could not be rendered")
        return HttpResponseServerError(_BARE_500)


def _parent(path: str) -> str:
    """/tenants/5/retry/ -> /tenants/5/: where the button that posts there lives."""
    trimmed = path.rstrip("/")
    return trimmed.rsplit("/", 1)[0] + "/" if "/" in trimmed else "/"


def method_not_allowed(request, response: HttpResponse) -> HttpResponse:
    page = _page(
        request,
        405,
        "Not a page to open",
        "This address takes a button press from a form, not a visit. Go back and use the button.",
        back=_parent(request.path),
    )
    page["Allow"] = response.get("Allow", "")
    return page


def _kept_fields(request) -> tuple[list[tuple[str, str, str]], bool]:
    """(name, label, value) of each field typed, and whether a secret one was left out."""
    kept, dropped = [], False
    for name, values in request.POST.lists():
        if any(word in name.lower() for word in _NEVER_KEPT):
            dropped = dropped or name != "csrfmiddlewaretoken"
            continue
        kept += [(name, name.replace("_", " ").capitalize(), value) for value in values]
    return kept, dropped


def csrf_failure(request, reason: str = ""):
    """The form's security token ran out (a page left open, a new sign-in): offer to send what
    was typed again with a fresh token instead of losing it. Passwords are not kept."""
    kept, dropped = _kept_fields(request) if request.method == "POST" else ([], False)
    context = {"kept": kept, "dropped": dropped, "action": request.get_full_path()}
    return render(request, "csrf_failure.html", context, status=403)


class ErrorPageMiddleware:
    """Django answers a wrong method with an empty 405: give the page the other errors have."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and not response.content
            and not request.path.startswith("/api/")
        ):
            return method_not_allowed(request, response)
        return response
