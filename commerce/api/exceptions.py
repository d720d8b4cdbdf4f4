"""One error body for every API failure: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from commerce.errors import ApplicationError
from commerce.retry import RETRY_AFTER_SECONDS, TemporarilyUnavailable, is_transient

logger = logging.getLogger(__name__)

DRF_CODES = {
    exceptions.ValidationError: ("validation_error", "Invalid input."),
    exceptions.ParseError: ("validation_error", "Malformed request body."),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication credentials were not provided."),
    exceptions.AuthenticationFailed: ("not_authenticated", "Invalid credentials."),
    exceptions.PermissionDenied: ("permission_denied", "You do not have permission to perform this action."),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed."),
    exceptions.NotAcceptable: ("not_acceptable", "Cannot satisfy the request's Accept header."),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type."),
    exceptions.Throttled: ("throttled", "Too many requests."),
}


def error_body(code: str, message: str, details: dict | list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_message(details) -> str:
    """Name the first field at fault, so the message alone says what to fix."""
    if isinstance(details, dict) and details:
        field, problems = next(iter(details.items()))
        while isinstance(problems, dict) and problems:
            sub, problems = next(iter(problems.items()))
            field = f"{field}.{sub}"
        if isinstance(problems, list) and problems:
            first = problems[0]
            if isinstance(first, dict) and first:
                return _validation_message({field: first})
            if field == "non_field_errors":
                return str(first)
            return f"{field}: {first}"
    if isinstance(details, list) and details:
        return str(details[0])
    return "Invalid input."


def _temporarily_unavailable(exc: TemporarilyUnavailable) -> Response:
    """503 with Retry-After: the unit of work kept losing transient conflicts; the request may be sent again."""
    response = Response(error_body(exc.code, exc.message, exc.details), status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(exc.retry_after)
    return response


def exception_handler(exc, context):
    if isinstance(exc, DatabaseError) and is_transient(exc):
        # A conflict outside any retried unit of work (or one a caller's transaction could not rerun).
        logger.warning("Transient database conflict answered 503: %s", str(exc).splitlines()[0] if str(exc) else exc)
        exc = TemporarilyUnavailable(
            "The service is busy; please try again in a moment.", details={"retry_after_seconds": RETRY_AFTER_SECONDS}
        )
    if isinstance(exc, TemporarilyUnavailable):
        return _temporarily_unavailable(exc)
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, (TransitionNotAllowed, ConcurrentTransition)):
        return Response(
            error_body("invalid_transition", "The order changed or cannot make this change in its current status."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(
            error_body("validation_error", _validation_message(details), details), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code, message = "error", "Request failed."
    for exc_class, (exc_code, default_message) in DRF_CODES.items():
        if isinstance(exc, exc_class):
            code, message = exc_code, default_message
            break
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _validation_message(details)
    else:
        details = {}
        if isinstance(exc.detail, str) and exc.detail:
            message = str(exc.detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after_seconds": int(exc.wait)}
    response.data = error_body(code, message, details)
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request):
    return JsonResponse(error_body("server_error", "The server could not complete the request."), status=500)
