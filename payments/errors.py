"""The payments app's domain errors."""

from commerce.errors import ApplicationError


class PaymentError(ApplicationError):
    """A payment operation that cannot be done in the payment's current state."""

    code = "payment_error"
    status_code = 409


class PaymentGatewayError(PaymentError):
    """The gateway failed or did not answer; the operation may be retried or synced later."""

    status_code = 502


class PaymentDeclined(ApplicationError):
    code = "payment_declined"
    status_code = 402


class GatewayCallInTransaction(RuntimeError):
    """A gateway call was attempted inside a database transaction.

    That is a bug in the caller: the call would hold row locks for the whole network round trip,
    and a rollback after the gateway said yes would forget money the gateway has moved.
    """
