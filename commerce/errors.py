"""The one family of domain errors; the API and the admin show their code and message."""

from typing import Any


class ApplicationError(Exception):
    """A failure a user can understand and act on."""

    code = "application_error"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class ValidationFailed(ApplicationError):
    code = "validation_error"
    status_code = 400


class NotFound(ApplicationError):
    code = "not_found"
    status_code = 404


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status_code = 403


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    status_code = 409


class InsufficientInventory(ApplicationError):
    code = "insufficient_inventory"
    status_code = 409


class NothingToPick(ApplicationError):
    code = "nothing_to_pick"
    status_code = 409


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status_code = 409


class ApprovalRequired(ApplicationError):
    code = "approval_required"
    status_code = 409


class NoExchangeRate(ApplicationError):
    code = "no_exchange_rate"
    status_code = 409
