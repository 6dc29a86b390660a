"""Refusals as JSON: the same sentences the pages show, with a status a script can act on."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal.errors import ApplicationError
from portal.ratelimit import RateLimited


def _first(errors) -> str:
    """The first message of DRF's nested error data, for the one-line `detail`."""
    if isinstance(errors, dict):
        for value in errors.values():
            return _first(value)
        return ""
    if isinstance(errors, list):
        return _first(errors[0]) if errors else ""
    return str(errors)


def api_exception_handler(exc, context):
    """Every error is {"detail": sentence} plus, for bad input, {"errors": {field: [...]}}."""
    if isinstance(exc, RateLimited):
        return Response(
            {"detail": exc.message},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, ApplicationError):
        # The action was understood but can't be done now or by this caller: the page would
        # have shown this sentence as a message.
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return Response(
            {"detail": " ".join(exc.messages), "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"__all__": response.data}
        response.data = {"detail": _first(errors), "errors": errors}
    return response
