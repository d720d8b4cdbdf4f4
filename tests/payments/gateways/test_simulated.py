"""The simulated gateway on its own: deterministic by token, idempotent by key, stateful like a remote one."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from payments.errors import GatewayCallInTransaction
from payments.gateways import Outcome, get_gateway
from payments.gateways.simulated import SimulatedGateway
from payments.models import SimulatedAuthorization, SimulatedGatewayRecord

pytestmark = pytest.mark.django_db

A = SimulatedAuthorization.State
AMOUNT = Decimal("50.00")


@pytest.fixture
def gateway():
    return SimulatedGateway()


def authorize(gateway, token="tok_approve", key="auth-1", amount=AMOUNT):
    return gateway.authorize(token=token, amount=amount, currency="USD", idempotency_key=key)


def test_the_settings_register_it_by_name():
    assert isinstance(get_gateway("simulated"), SimulatedGateway)
    with pytest.raises(LookupError):
        get_gateway("nope")


@pytest.mark.parametrize(
    ("token", "outcome", "avs", "valid_for"),
    [
        ("tok_approve", Outcome.SUCCESS, "match", timedelta(days=7)),
        ("tok_review", Outcome.SUCCESS, "mismatch", timedelta(days=7)),
        ("tok_expiring", Outcome.SUCCESS, "match", timedelta(hours=1)),
        ("tok_decline", Outcome.DECLINED, "", None),
        ("tok_pending", Outcome.PENDING, "match", None),
        ("tok_timeout", Outcome.TIMEOUT, "", None),
        ("tok_error", Outcome.ERROR, "", None),
        ("tok_nonsense", Outcome.DECLINED, "", None),
    ],
)
def test_the_token_decides_the_authorization(gateway, token, outcome, avs, valid_for):
    result = authorize(gateway, token)

    assert result.outcome == outcome
    assert result.avs_result == avs
    if valid_for:
        assert result.amount == AMOUNT
        assert valid_for - timedelta(minutes=1) < result.expires_at - timezone.now() <= valid_for


def test_a_retry_with_the_same_key_gets_the_first_answer(gateway):
    first = authorize(gateway)

    second = authorize(gateway)

    assert (second.outcome, second.reference, second.replayed) == (first.outcome, first.reference, True)
    assert SimulatedAuthorization.objects.count() == 1
    assert SimulatedGatewayRecord.objects.get().calls == 2


def test_a_key_reused_with_other_parameters_is_an_error(gateway):
    authorize(gateway)

    result = authorize(gateway, amount=Decimal("60.00"))

    assert result.outcome == Outcome.ERROR
    assert SimulatedAuthorization.objects.count() == 1


def test_an_amount_written_with_more_decimals_is_the_same_request(gateway):
    authorize(gateway)

    assert authorize(gateway, amount=Decimal("50.00000")).replayed


def test_timeout_token_loses_the_first_answer_of_each_key_only(gateway):
    assert authorize(gateway, "tok_timeout").outcome == Outcome.TIMEOUT
    # The gateway carried it out and remembers, in its table, that the caller has not heard.
    record = SimulatedGatewayRecord.objects.get()
    assert (record.delivered, SimulatedAuthorization.objects.get().state) == (False, A.APPROVED)

    retry = SimulatedGateway().authorize(token="tok_timeout", amount=AMOUNT, currency="USD", idempotency_key="auth-1")

    assert (retry.outcome, retry.amount) == (Outcome.SUCCESS, AMOUNT)
    assert authorize(gateway, "tok_timeout", key="auth-2").outcome == Outcome.TIMEOUT


def test_error_token_fails_every_key(gateway):
    assert authorize(gateway, "tok_error", key="a").outcome == Outcome.ERROR
    assert authorize(gateway, "tok_error", key="b").outcome == Outcome.ERROR
    assert not SimulatedAuthorization.objects.exists()


def test_status_poll_approves_a_pending_authorization(gateway):
    pending = authorize(gateway, "tok_pending")

    polled = gateway.status(reference=pending.reference, idempotency_key="auth-1")

    assert (polled.outcome, polled.amount) == (Outcome.SUCCESS, AMOUNT)
    assert SimulatedAuthorization.objects.get().state == A.APPROVED


def test_status_of_an_unknown_reference_is_declined(gateway):
    assert gateway.status(reference="SIM-NOPE", idempotency_key="k").outcome == Outcome.DECLINED


def test_a_second_capture_with_the_same_key_captures_nothing_more(gateway):
    reference = authorize(gateway).reference

    first = gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap-1")
    second = gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap-1")

    assert (first.outcome, second.outcome, second.replayed) == (Outcome.SUCCESS, Outcome.SUCCESS, True)
    assert SimulatedAuthorization.objects.get().captured_amount == AMOUNT


def test_a_capture_under_another_key_after_the_capture_is_declined(gateway):
    reference = authorize(gateway).reference
    gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap-1")

    result = gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap-2")

    assert (result.outcome, result.error) == (Outcome.DECLINED, "Already captured.")
    assert SimulatedAuthorization.objects.get().captured_amount == AMOUNT


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        (Decimal("50.01"), "USD", "Amount above the authorization."),
        (Decimal("10.00"), "EUR", "Currency differs from the authorization's."),
    ],
)
def test_capture_checks_amount_and_currency(gateway, amount, currency, error):
    reference = authorize(gateway).reference

    result = gateway.capture(reference=reference, amount=amount, currency=currency, idempotency_key="cap")

    assert (result.outcome, result.error) == (Outcome.DECLINED, error)


def test_capture_after_expiry_is_declined(gateway, travel):
    reference = authorize(gateway, "tok_expiring").reference
    travel(timezone.now() + timedelta(hours=1, seconds=1))

    result = gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap")

    assert (result.outcome, result.error) == (Outcome.DECLINED, "The authorization expired.")


def test_void_and_capture_exclude_each_other(gateway):
    voided = authorize(gateway, key="a").reference
    captured = authorize(gateway, key="b").reference
    gateway.void(reference=voided, idempotency_key="void-a")
    gateway.capture(reference=captured, amount=AMOUNT, currency="USD", idempotency_key="cap-b")

    assert gateway.capture(reference=voided, amount=AMOUNT, currency="USD", idempotency_key="cap-a").outcome == (
        Outcome.DECLINED
    )
    assert gateway.void(reference=captured, idempotency_key="void-b").outcome == Outcome.DECLINED
    states = dict(SimulatedAuthorization.objects.values_list("reference", "state"))
    assert states == {voided: A.VOIDED, captured: A.CAPTURED}


def test_refunds_never_exceed_what_was_captured(gateway):
    reference = authorize(gateway).reference
    gateway.capture(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="cap")

    first = gateway.refund(reference=reference, amount=Decimal("30.00"), currency="USD", idempotency_key="r1")
    again = gateway.refund(reference=reference, amount=Decimal("30.00"), currency="USD", idempotency_key="r1")
    too_much = gateway.refund(reference=reference, amount=Decimal("20.01"), currency="USD", idempotency_key="r2")

    assert (first.outcome, again.outcome, too_much.outcome) == (Outcome.SUCCESS, Outcome.SUCCESS, Outcome.DECLINED)
    assert SimulatedAuthorization.objects.get().refunded_amount == Decimal("30.00")


def test_nothing_is_refunded_before_a_capture(gateway):
    reference = authorize(gateway).reference

    result = gateway.refund(reference=reference, amount=AMOUNT, currency="USD", idempotency_key="r")

    assert result.outcome == Outcome.DECLINED


def test_a_call_inside_a_transaction_is_refused_as_a_bug(gateway):
    with pytest.raises(GatewayCallInTransaction), transaction.atomic():
        authorize(gateway)

    assert not SimulatedGatewayRecord.objects.exists()


def test_status_reports_a_valid_authorization_with_its_amount_and_expiry(gateway):
    reference = authorize(gateway).reference

    result = gateway.status(reference=reference, idempotency_key="status-1")

    authorization = SimulatedAuthorization.objects.get(reference=reference)
    assert (result.outcome, result.amount, result.expires_at) == (Outcome.SUCCESS, AMOUNT, authorization.expires_at)


def test_status_reports_an_authorization_past_its_expiry_as_expired(gateway):
    reference = authorize(gateway, "tok_expiring").reference
    SimulatedAuthorization.objects.filter(reference=reference).update(expires_at=timezone.now() - timedelta(seconds=1))

    result = gateway.status(reference=reference, idempotency_key="status-1")

    assert (result.outcome, result.error) == (Outcome.DECLINED, "The authorization expired.")


def test_status_reports_a_voided_authorization(gateway):
    reference = authorize(gateway).reference
    gateway.void(reference=reference, idempotency_key="void-1")

    result = gateway.status(reference=reference, idempotency_key="status-1")

    assert (result.outcome, result.error) == (Outcome.DECLINED, "The authorization was voided.")


def test_status_reports_the_amount_the_gateway_holds(gateway):
    reference = authorize(gateway).reference
    SimulatedAuthorization.objects.filter(reference=reference).update(approved_amount=Decimal("40.00"))

    assert gateway.status(reference=reference, idempotency_key="status-1").amount == Decimal("40.00")
