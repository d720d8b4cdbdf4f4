"""The gateway protocol: what the payments app asks of a payment gateway, and what it gets back.

Every operation takes an idempotency key: the gateway must answer a repeated call with the same
key with the first call's answer and must not move money twice. Failures are answers too:
``Gateway`` turns a timeout or an adapter's exception into a ``GatewayResult`` with outcome
``timeout`` or ``error``, so callers never see a gateway exception. See README.md beside this file.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

from payments.errors import GatewayCallInTransaction

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    SUCCESS = "success"
    DECLINED = "declined"
    PENDING = "pending"  # accepted; the answer comes later (poll ``status``)
    REVIEW = "review"  # approved, but the gateway's own screening flags it
    ERROR = "error"  # a definite failure answer (a retry needs a new key)
    TIMEOUT = "timeout"  # no answer: the operation may or may not have happened


class Verification(StrEnum):
    """An address (AVS) or security code (CVV) check result."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNAVAILABLE = "unavailable"
    NOT_CHECKED = ""


@dataclass(frozen=True)
class GatewayResult:
    """A gateway's answer to one call."""

    outcome: Outcome
    reference: str = ""  # the authorization (or capture, refund) reference at the gateway
    amount: Decimal | None = None  # approved, captured or refunded amount
    expires_at: datetime | None = None  # when an authorization lapses
    avs_result: str = Verification.NOT_CHECKED
    cvv_result: str = Verification.NOT_CHECKED
    error: str = ""
    replayed: bool = False  # the answer of an earlier call with the same idempotency key
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.SUCCESS, Outcome.REVIEW)


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Tell whether the caller holds a database transaction open.

    The blocks a test case wraps around each test do not count: Django applies the same rule to
    ``atomic(durable=True)``.
    """
    connection = transaction.get_connection(using)
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def ensure_no_transaction(what: str) -> None:
    """Refuse to go on when called inside a transaction (a gateway call must never be)."""
    if in_transaction():
        raise GatewayCallInTransaction(f"{what} calls a payment gateway and must run outside any transaction.")


class Gateway:
    """Base class of gateway adapters: subclasses implement the ``_`` methods.

    The public methods check that no transaction is open, and turn ``TimeoutError`` into a
    ``timeout`` result and any other exception of the adapter into an ``error`` result.
    """

    name = ""

    def authorize(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        return self._call(
            "authorize", self._authorize, token=token, amount=amount, currency=currency, idempotency_key=idempotency_key
        )

    def capture(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        return self._call(
            "capture",
            self._capture,
            reference=reference,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )

    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        return self._call("void", self._void, reference=reference, idempotency_key=idempotency_key)

    def refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        return self._call(
            "refund",
            self._refund,
            reference=reference,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )

    def status(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        return self._call("status", self._status, reference=reference, idempotency_key=idempotency_key)

    def _authorize(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError

    def _capture(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError

    def _void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError

    def _refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError

    def _status(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError

    def _call(self, operation: str, func, **kwargs) -> GatewayResult:
        ensure_no_transaction(f"Gateway {self.name!r} {operation}")
        try:
            return func(**kwargs)
        except TimeoutError as exc:
            return GatewayResult(Outcome.TIMEOUT, error=str(exc) or "The gateway did not answer in time.")
        except Exception as exc:
            # The protocol promises an answer, never an exception: an adapter's failure (network,
            # parsing, a bug) becomes an error result the caller records and can retry.
            logger.exception("Gateway %s %s failed (key %s)", self.name, operation, kwargs.get("idempotency_key"))
            return GatewayResult(Outcome.ERROR, error=f"{type(exc).__name__}: {exc}"[:500])
