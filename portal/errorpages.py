"""Error pages in the portal's own layout, saying in words what went wrong."""

from django.shortcuts import render


def _page(request, status: int, title: str, text: str):
    return render(request, "error.html", {"title": title, "text": text}, status=status)


def bad_request(request, exception=None):
    return _page(request, 400, "Bad request", "The request could not be understood.")


def forbidden(request, exception=None):
    return _page(request, 403, "Not allowed", "Your role does not allow this action.")


def not_found(request, exception=None):
    return _page(request, 404, "Not found", "There is nothing here, or it is not yours to see.")


def server_error(request):
    return _page(
        request, 500, "Something went wrong", "The error was logged; please try again later."
    )
