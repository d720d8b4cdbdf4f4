"""A gateway for demos and tests that behaves like a remote one, decided by the card token.

=============== ==========================================================================
token           outcome
=============== ==========================================================================
``tok_approve`` approved, address and security code match, valid 7 days
``tok_review``  approved with an address (AVS) mismatch: the accept policy sends it to review
``tok_decline`` declined
``tok_pending`` asynchronous: ``pending``, approved on the next ``status`` poll
``tok_timeout`` the first call of each idempotency key is carried out but its answer is lost
                (``timeout``); a retry with the same key gets the answer
``tok_error``   every authorization fails with ``error``
``tok_expiring`` approved, valid one hour
anything else   declined as an unknown test token
=============== ==========================================================================

``status`` of an authorization answers what the gateway holds now: ``success`` with the approved
amount and expiry while it is valid, ``declined`` with "The authorization expired." once its expiry
has passed, "The authorization was voided." after a void, and ``pending`` until an asynchronous one
is decided (the poll decides it). Tests drive it by moving the authorization's ``expires_at``,
``state`` or ``approved_amount``.

Its state lives in its own tables (``SimulatedAuthorization``, ``SimulatedGatewayRecord``), written
in a transaction of its own per call (a new authorization: two INSERTs), so a retry with the same key
gets the first answer even after a restart, a second capture with the same key captures nothing
more, and a call made inside the caller's transaction is refused like the bug it is.
"""

import secrets
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from commerce.money import quantize_money
from payments.gateways.base import Gateway, GatewayResult, Outcome, Verification
from payments.models import SimulatedAuthorization, SimulatedGatewayRecord

AUTHORIZATION_VALID_FOR = timedelta(days=7)
SHORT_AUTHORIZATION_VALID_FOR = timedelta(hours=1)

A = SimulatedAuthorization.State
V = Verification

# token -> (state of a new authorization, AVS, CVV, valid for)
TOKENS: dict[str, tuple[str, str, str, timedelta | None]] = {
    "tok_approve": (A.APPROVED, V.MATCH, V.MATCH, AUTHORIZATION_VALID_FOR),
    "tok_review": (A.APPROVED, V.MISMATCH, V.MATCH, AUTHORIZATION_VALID_FOR),
    "tok_decline": (A.DECLINED, V.NOT_CHECKED, V.NOT_CHECKED, None),
    "tok_pending": (A.PENDING, V.MATCH, V.MATCH, AUTHORIZATION_VALID_FOR),
    "tok_timeout": (A.APPROVED, V.MATCH, V.MATCH, AUTHORIZATION_VALID_FOR),
    "tok_expiring": (A.APPROVED, V.MATCH, V.MATCH, SHORT_AUTHORIZATION_VALID_FOR),
}
# Test card tokens, not secrets.
ERROR_TOKEN = "tok_error"  # noqa: S105
TIMEOUT_TOKEN = "tok_timeout"  # noqa: S105
STATE_OUTCOMES = {
    A.PENDING: Outcome.PENDING,
    A.APPROVED: Outcome.SUCCESS,
    A.CAPTURED: Outcome.SUCCESS,
    A.DECLINED: Outcome.DECLINED,
    A.VOIDED: Outcome.DECLINED,
}
STATE_ERRORS = {A.DECLINED: "Declined by the issuer.", A.VOIDED: "The authorization was voided."}
EXPIRED_ERROR = "The authorization expired."


def _new_reference() -> str:
    return f"SIM-{secrets.token_hex(8).upper()}"


def _minor(amount: Decimal, currency: str) -> str:
    """Write an amount in the currency's minor unit, as the request a repeated key must match."""
    return str(quantize_money(amount, currency))


def _encode(result: GatewayResult) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome),
        "reference": result.reference,
        "amount": None if result.amount is None else str(result.amount),
        "expires_at": result.expires_at.isoformat() if result.expires_at else None,
        "avs_result": result.avs_result,
        "cvv_result": result.cvv_result,
        "error": result.error,
    }


def _decode(data: dict[str, Any], *, replayed: bool) -> GatewayResult:
    return GatewayResult(
        outcome=Outcome(data["outcome"]),
        reference=data["reference"],
        amount=None if data["amount"] is None else Decimal(data["amount"]),
        expires_at=parse_datetime(data["expires_at"]) if data["expires_at"] else None,
        avs_result=data["avs_result"],
        cvv_result=data["cvv_result"],
        error=data["error"],
        replayed=replayed,
        raw={**data, "replayed": replayed},
    )


def _answer(result: GatewayResult) -> GatewayResult:
    return replace(result, raw=_encode(result))


def _timeout(record: SimulatedGatewayRecord) -> GatewayResult:
    return GatewayResult(
        Outcome.TIMEOUT,
        error="The simulated gateway did not answer in time.",
        raw={"idempotency_key": record.idempotency_key, "timeout": True},
    )


def _declined(error: str, reference: str = "") -> GatewayResult:
    return GatewayResult(Outcome.DECLINED, reference=reference, error=error)


class SimulatedGateway(Gateway):
    name = "simulated"

    def _authorize(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        request = {"operation": "authorize", "token": token, "amount": _minor(amount, currency), "currency": currency}
        return self._once(idempotency_key, request, lambda: self._new_authorization(token, amount, currency))

    def _capture(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        request = {
            "operation": "capture",
            "reference": reference,
            "amount": _minor(amount, currency),
            "currency": currency,
        }
        return self._once(idempotency_key, request, lambda: self._apply_capture(reference, amount, currency))

    def _void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        request = {"operation": "void", "reference": reference}
        return self._once(idempotency_key, request, lambda: self._apply_void(reference))

    def _refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        request = {
            "operation": "refund",
            "reference": reference,
            "amount": _minor(amount, currency),
            "currency": currency,
        }
        return self._once(idempotency_key, request, lambda: self._apply_refund(reference, amount, currency))

    def _status(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        # A read, not recorded per key; polling an asynchronous authorization completes it.
        with transaction.atomic(durable=True):
            authorization = SimulatedAuthorization.objects.select_for_update().filter(reference=reference).first()
            if authorization is None:
                return _answer(_declined("No such authorization.", reference))
            if authorization.state == A.PENDING:
                authorization.state = A.APPROVED
                authorization.approved_amount = authorization.amount
                authorization.expires_at = timezone.now() + AUTHORIZATION_VALID_FOR
                authorization.save(update_fields=["state", "approved_amount", "expires_at"])
            if (
                authorization.state == A.APPROVED
                and authorization.expires_at
                and authorization.expires_at <= timezone.now()
            ):
                return _answer(_declined(EXPIRED_ERROR, reference))
            return _answer(self._authorization_result(authorization))

    # Carrying out each operation once per idempotency key.

    def _once(self, idempotency_key: str, request: dict[str, Any], operate) -> GatewayResult:
        # Optimistic: carry the operation out and record it under its key in one transaction. A key
        # already recorded (a retry, or a concurrent call that won) fails the insert, which rolls the
        # operation back; the recorded answer is then the answer.
        try:
            with transaction.atomic(durable=True):
                result, authorization = operate()
                record = SimulatedGatewayRecord.objects.create(
                    idempotency_key=idempotency_key,
                    operation=request["operation"],
                    request=request,
                    response=_encode(result),
                    authorization=authorization,
                    delivered=not self._loses_first_answer(authorization),
                )
        except IntegrityError:
            with transaction.atomic(durable=True):
                record = SimulatedGatewayRecord.objects.select_for_update().get(idempotency_key=idempotency_key)
                return self._replay(record, request)
        if not record.delivered:
            return _timeout(record)
        return _answer(result)

    def _replay(self, record: SimulatedGatewayRecord, request: dict[str, Any]) -> GatewayResult:
        if record.request != request:
            return GatewayResult(
                Outcome.ERROR,
                error="Idempotency key reused with different parameters.",
                raw={"idempotency_key": record.idempotency_key, "first_request": record.request},
            )
        record.calls += 1
        record.delivered = True
        record.save(update_fields=["calls", "delivered"])
        return _decode(record.response, replayed=True)

    @staticmethod
    def _loses_first_answer(authorization: SimulatedAuthorization | None) -> bool:
        return authorization is not None and authorization.token == TIMEOUT_TOKEN

    # The operations, inside _once's transaction.

    def _new_authorization(self, token: str, amount: Decimal, currency: str):
        if token == ERROR_TOKEN:
            return GatewayResult(Outcome.ERROR, error="Simulated processing error."), None
        if token not in TOKENS:
            return _declined(f"Unknown test token; use one of {', '.join(sorted([*TOKENS, ERROR_TOKEN]))}."), None
        state, avs, cvv, valid_for = TOKENS[token]
        approved = state == A.APPROVED
        authorization = SimulatedAuthorization.objects.create(
            reference=_new_reference(),
            token=token,
            currency=currency,
            amount=amount,
            approved_amount=amount if approved else Decimal("0"),
            state=state,
            avs_result=avs,
            cvv_result=cvv,
            expires_at=timezone.now() + valid_for if approved and valid_for else None,
        )
        return self._authorization_result(authorization), authorization

    def _authorization_result(self, authorization: SimulatedAuthorization) -> GatewayResult:
        outcome = STATE_OUTCOMES[authorization.state]
        return GatewayResult(
            outcome,
            reference=authorization.reference,
            amount=authorization.approved_amount if outcome == Outcome.SUCCESS else None,
            expires_at=authorization.expires_at,
            avs_result=authorization.avs_result,
            cvv_result=authorization.cvv_result,
            error=STATE_ERRORS.get(authorization.state, ""),
        )

    def _locked(self, reference: str) -> SimulatedAuthorization | None:
        return SimulatedAuthorization.objects.select_for_update().filter(reference=reference).first()

    def _apply_capture(self, reference: str, amount: Decimal, currency: str):
        authorization = self._locked(reference)
        if authorization is None:
            return _declined("No such authorization.", reference), None
        problem = self._capture_problem(authorization, amount, currency)
        if problem:
            return _declined(problem, reference), authorization
        authorization.captured_amount += amount
        authorization.state = A.CAPTURED
        authorization.save(update_fields=["captured_amount", "state"])
        return GatewayResult(Outcome.SUCCESS, reference=reference, amount=amount), authorization

    @staticmethod
    def _capture_problem(authorization: SimulatedAuthorization, amount: Decimal, currency: str) -> str:
        # Partial captures (one per shipped release) may follow each other up to the approved amount.
        remaining = authorization.approved_amount - authorization.captured_amount
        if authorization.state == A.CAPTURED and remaining <= 0:
            return "Already captured."
        if authorization.state not in (A.APPROVED, A.CAPTURED):
            return f"The authorization is {authorization.state}."
        if authorization.expires_at and authorization.expires_at <= timezone.now():
            return "The authorization expired."
        if currency != authorization.currency:
            return "Currency differs from the authorization's."
        if amount > remaining:
            return "Amount above the authorization."
        return ""

    def _apply_void(self, reference: str):
        authorization = self._locked(reference)
        if authorization is None:
            return _declined("No such authorization.", reference), None
        if authorization.state not in (A.APPROVED, A.PENDING):
            return _declined(f"The authorization is {authorization.state}.", reference), authorization
        authorization.state = A.VOIDED
        authorization.save(update_fields=["state"])
        return GatewayResult(Outcome.SUCCESS, reference=reference), authorization

    def _apply_refund(self, reference: str, amount: Decimal, currency: str):
        authorization = self._locked(reference)
        if authorization is None:
            return _declined("No such authorization.", reference), None
        if authorization.state != A.CAPTURED:
            return _declined("Nothing was captured.", reference), authorization
        if currency != authorization.currency:
            return _declined("Currency differs from the authorization's.", reference), authorization
        if amount > authorization.captured_amount - authorization.refunded_amount:
            return _declined("Amount above what is left to refund.", reference), authorization
        authorization.refunded_amount += amount
        authorization.save(update_fields=["refunded_amount"])
        return GatewayResult(Outcome.SUCCESS, reference=reference, amount=amount), authorization
