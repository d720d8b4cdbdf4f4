"""The payment services, through the simulated gateway: every token, every money movement."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from commerce.errors import InvalidTransition, ValidationFailed
from orders.models import OrderEvent
from payments.errors import GatewayCallInTransaction, PaymentError, PaymentGatewayError
from payments.gateways import get_gateway
from payments.models import (
    AcceptPolicy,
    Operation,
    Payment,
    PaymentStatus,
    SimulatedAuthorization,
    SimulatedGatewayRecord,
)
from payments.policies import PaymentDecision
from payments.services import (
    payment_approve_review,
    payment_authorize,
    payment_cancel,
    payment_capture,
    payment_check_order_status,
    payment_create,
    payment_decline_review,
    payment_reauthorize,
    payment_refund,
    payment_sync,
    payment_void,
)
from tests.factories.commerce import CurrencyFactory, StaffUserFactory
from tests.factories.orders import OrderFactory
from tests.payments.helpers import at_gateway, kinds_and_outcomes, ledger_matches

pytestmark = pytest.mark.django_db

S = PaymentStatus
D = PaymentDecision


# Creating a payment.


def test_create_takes_the_order_total_and_currency(order):
    payment = payment_create(order=order, method="card", token="tok_approve")

    assert (payment.status, payment.amount, payment.currency_id) == (S.NEW, Decimal("120.00"), "USD")
    assert (payment.gateway, payment.token, payment.is_current) == ("simulated", "tok_approve", True)
    assert order.events.filter(kind=OrderEvent.Kind.PAYMENT, message__contains="created").exists()


@pytest.mark.parametrize(
    ("code", "total", "expected"),
    [("JPY", "1234.5", "1235"), ("JPY", "1234.4", "1234"), ("USD", "10.005", "10.01"), ("USD", "10.004", "10.00")],
)
def test_create_rounds_the_amount_to_the_currency_minor_unit(store, code, total, expected):
    order = OrderFactory(store=store, currency=CurrencyFactory(code=code), grand_total=Decimal(total))

    payment = payment_create(order=order, method="card", token="tok_approve")

    assert str(payment.amount) == expected


def test_create_refuses_an_unknown_method(order):
    with pytest.raises(ValidationFailed) as error:
        payment_create(order=order, method="bitcoin")

    assert "method" in error.value.details["payment"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize("token", ["", "   ", "4111 1111 1111 1111", "4111111111111111"])
def test_create_refuses_a_card_payment_without_a_token_or_with_a_card_number(order, token):
    with pytest.raises(ValidationFailed) as error:
        payment_create(order=order, method="card", token=token)

    assert list(error.value.details["payment"]) == ["token"]
    assert error.value.message.startswith("payment.token: ")
    assert not Payment.objects.exists()


def test_create_refuses_a_method_the_store_does_not_accept(order):
    AcceptPolicy.objects.create(store=order.store, method="cod", accepted=False)

    with pytest.raises(ValidationFailed) as error:
        payment_create(order=order, method="cod")

    assert "does not accept" in error.value.details["payment"]["method"][0]


def test_create_refuses_a_purchase_order_payment_without_a_purchase_order_number(order):
    with pytest.raises(ValidationFailed):
        payment_create(order=order, method="purchase_order")

    order.purchase_order_number = "PO-1"
    assert payment_create(order=order, method="purchase_order").method == "purchase_order"


def test_create_refuses_a_negative_amount(order):
    with pytest.raises(ValidationFailed) as error:
        payment_create(order=order, method="cod", amount=Decimal("-1"))

    assert "amount" in error.value.details["payment"]


def test_create_refuses_a_float_amount(order):
    with pytest.raises(ValidationFailed) as error:
        payment_create(order=order, method="cod", amount=120.0)

    assert "amount" in error.value.details["payment"]


def test_create_keeps_no_token_for_methods_without_a_gateway(order):
    payment = payment_create(order=order, method="cod", token="tok_approve")

    assert (payment.token, payment.gateway) == ("", "")


def test_a_new_payment_replaces_one_never_authorized_or_declined(pay):
    first = pay("tok_decline")
    payment_authorize(payment=first)
    second = pay("tok_approve")
    third = pay("tok_approve")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.is_current) == (S.DECLINED, False)
    assert (second.status, second.is_current) == (S.VOIDED, False)
    assert third.is_current


def test_a_new_payment_is_refused_while_the_current_one_holds_an_authorization(authorized, pay):
    authorized("tok_approve")

    with pytest.raises(InvalidTransition):
        pay("tok_approve")

    assert Payment.objects.count() == 1


# Authorizing: one outcome per simulated token.


@pytest.mark.parametrize(
    ("token", "decision", "status"),
    [
        ("tok_approve", D.YES, S.AUTHORIZED),
        ("tok_review", D.REVIEW, S.REVIEW),
        ("tok_decline", D.NO, S.DECLINED),
        ("tok_pending", D.WORKING, S.PENDING),
        ("tok_timeout", D.WORKING, S.PENDING),
        ("tok_error", D.WORKING, S.PENDING),
        ("tok_expiring", D.YES, S.AUTHORIZED),
        ("tok_unknown", D.NO, S.DECLINED),
    ],
)
def test_authorize_outcome_per_token(pay, token, decision, status):
    payment = pay(token)

    assert payment_authorize(payment=payment) == decision

    payment.refresh_from_db()
    assert payment.status == status
    assert payment.transactions.get().kind == "authorize"


def test_approved_authorization_records_the_gateway_answer(pay):
    payment = pay("tok_approve")

    payment_authorize(payment=payment)

    payment.refresh_from_db()
    assert payment.approved_amount == Decimal("120.00")
    assert payment.authorization_reference.startswith("SIM-")
    assert (payment.avs_result, payment.cvv_result) == ("match", "match")
    assert timedelta(days=6) < payment.expires_at - timezone.now() <= timedelta(days=7)
    transaction_ = payment.transactions.get()
    assert (transaction_.outcome, transaction_.applied, transaction_.idempotency_key) == (
        "success",
        True,
        payment.authorize_key,
    )
    assert at_gateway(payment).approved_amount == Decimal("120.00")
    assert payment.order.events.filter(message__contains="authorized").exists()


def test_expiring_token_authorization_is_valid_one_hour(authorized):
    payment = authorized("tok_expiring")

    assert timedelta(minutes=59) < payment.expires_at - timezone.now() <= timedelta(hours=1)


def test_review_token_is_held_for_review_because_of_the_address_mismatch(authorized):
    payment = authorized("tok_review")

    assert payment.status == S.REVIEW
    assert payment.avs_result == "mismatch"
    assert "AVS" in payment.status_reason
    assert payment.approved_amount == Decimal("120.00")  # the money is held at the gateway meanwhile


def test_declined_token_records_the_reason(authorized):
    payment = authorized("tok_decline")

    assert payment.status_reason == "Declined by the issuer."
    assert payment.approved_amount == 0


def test_pending_authorization_is_approved_by_the_next_sync(authorized):
    payment = authorized("tok_pending")
    assert payment.authorization_reference  # the gateway's handle to poll

    assert payment_sync(payment=payment) == D.YES

    payment.refresh_from_db()
    assert payment.status == S.AUTHORIZED
    assert kinds_and_outcomes(payment) == [("authorize", "pending"), ("status", "success")]
    assert SimulatedAuthorization.objects.get().state == SimulatedAuthorization.State.APPROVED


def test_timed_out_authorization_is_retried_with_the_same_key_and_authorized_once(authorized):
    payment = authorized("tok_timeout")
    assert payment.status == S.PENDING
    # The gateway keeps the answer it could not deliver in its own table, not in this process.
    assert SimulatedGatewayRecord.objects.get().delivered is False

    assert payment_sync(payment=payment) == D.YES

    payment.refresh_from_db()
    assert payment.status == S.AUTHORIZED
    assert kinds_and_outcomes(payment) == [("authorize", "timeout"), ("authorize", "success")]
    keys = set(payment.transactions.values_list("idempotency_key", flat=True))
    assert keys == {payment.authorize_key}
    assert SimulatedAuthorization.objects.count() == 1
    assert payment.transactions.filter(replayed=True).count() == 1


def test_a_second_sync_after_the_answer_changes_nothing(authorized):
    payment = authorized("tok_timeout")
    payment_sync(payment=payment)

    assert payment_sync(payment=payment) == D.YES

    assert payment.transactions.count() == 2


def test_gateway_error_stays_working_and_each_retry_uses_a_new_key(authorized):
    payment = authorized("tok_error")

    assert payment_sync(payment=payment) == D.WORKING

    assert payment.status == S.PENDING
    first, second = payment.transactions.order_by("pk")
    assert (first.outcome, second.outcome) == ("error", "error")
    assert first.idempotency_key != second.idempotency_key
    assert not SimulatedAuthorization.objects.exists()


def test_authorizing_again_does_not_call_the_gateway_again(authorized):
    payment = authorized("tok_approve")

    assert payment_authorize(payment=payment) == D.YES

    assert payment.transactions.count() == 1


def test_authorize_refuses_to_run_inside_a_transaction(pay):
    payment = pay("tok_approve")

    with pytest.raises(GatewayCallInTransaction), transaction.atomic():
        payment_authorize(payment=payment)

    payment.refresh_from_db()
    assert payment.status == S.NEW
    assert not SimulatedGatewayRecord.objects.exists()


# Methods without a gateway.


def test_cash_on_delivery_is_accepted_without_a_gateway(authorized):
    payment = authorized(method="cod")

    assert (payment.status, payment.approved_amount, payment.expires_at) == (S.AUTHORIZED, Decimal("120.00"), None)
    assert payment.transactions.get().gateway == ""
    assert not SimulatedGatewayRecord.objects.exists()


def test_purchase_order_is_accepted(pay, order):
    order.purchase_order_number = "PO-77"
    payment = pay(method="purchase_order")

    assert payment_authorize(payment=payment) == D.YES


def test_bill_me_is_accepted_by_the_default_hook(pay):
    assert payment_authorize(payment=pay(method="bill_me")) == D.YES


def test_bill_me_is_declined_when_the_external_account_hook_refuses(pay, settings):
    from tests.payments import hooks

    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.decline_all_accounts"
    hooks.CALLS.clear()
    payment = pay(method="bill_me")

    assert payment_authorize(payment=payment) == D.NO

    payment.refresh_from_db()
    assert payment.status == S.DECLINED
    assert "external account" in payment.status_reason
    (call,) = hooks.CALLS
    assert call == (
        {
            "customer": payment.order.customer_id,
            "order": payment.order_id,
            "amount": Decimal("120.00"),
            "currency": "USD",
        }
    )


def test_bill_me_waits_while_the_accounts_system_fails_and_a_sync_asks_again(pay, settings):
    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.unreachable_accounts"
    payment = pay(method="bill_me")
    assert payment_authorize(payment=payment) == D.WORKING

    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "payments.hooks.approve_all_accounts"

    assert payment_sync(payment=payment) == D.YES
    payment.refresh_from_db()
    assert payment.status == S.AUTHORIZED


# Review.


def test_approving_a_review_authorizes_the_payment(authorized):
    payment = authorized("tok_review")
    clerk = StaffUserFactory()

    payment = payment_approve_review(payment=payment, acting_user=clerk, reason="Called the buyer.")

    assert (payment.status, payment.reviewed_by, payment.status_reason) == (S.AUTHORIZED, clerk, "Called the buyer.")
    event = payment.order.events.get(message__contains="approved after review")
    assert (event.actor, event.reason) == (clerk, "Called the buyer.")


def test_only_a_payment_in_review_can_be_approved(authorized):
    payment = authorized("tok_approve")

    with pytest.raises(InvalidTransition):
        payment_approve_review(payment=payment, acting_user=StaffUserFactory())


def test_declining_a_review_voids_the_authorization_at_the_gateway(authorized):
    payment = authorized("tok_review")
    clerk = StaffUserFactory()

    payment = payment_decline_review(payment=payment, acting_user=clerk, reason="Address does not match.")

    assert (payment.status, payment.reviewed_by) == (S.DECLINED, clerk)
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED
    assert kinds_and_outcomes(payment)[-1] == ("void", "success")
    assert payment.pending_operation == Operation.NONE


def test_declining_a_review_needs_a_reason(authorized):
    payment = authorized("tok_review")

    with pytest.raises(ValidationFailed):
        payment_decline_review(payment=payment, acting_user=StaffUserFactory(), reason=" ")

    payment.refresh_from_db()
    assert payment.status == S.REVIEW


# Capture.


def test_capture_takes_the_whole_authorization(authorized):
    payment = authorized("tok_approve")

    payment = payment_capture(payment=payment)

    assert (payment.status, payment.captured_amount) == (S.DEPOSITED, Decimal("120.00"))
    assert at_gateway(payment).captured_amount == Decimal("120.00")
    assert ledger_matches(payment)


def test_a_second_capture_with_the_same_key_does_nothing_more(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment, idempotency_key="deposit-1")

    payment = payment_capture(payment=payment, idempotency_key="deposit-1")
    payment = payment_capture(payment=payment)

    assert payment.captured_amount == Decimal("120.00")
    assert payment.transactions.filter(kind="capture").count() == 1
    assert at_gateway(payment).captured_amount == Decimal("120.00")


def test_a_capture_with_another_key_after_the_deposit_is_refused(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment, idempotency_key="deposit-1")

    with pytest.raises(InvalidTransition):
        payment_capture(payment=payment, idempotency_key="deposit-2")

    assert at_gateway(payment).captured_amount == Decimal("120.00")


def test_capture_never_exceeds_the_authorization(authorized):
    payment = authorized("tok_approve")

    with pytest.raises(PaymentError) as error:
        payment_capture(payment=payment, amount=Decimal("120.01"))

    assert error.value.details["approved_amount"] == "120.00"
    assert payment.status == S.AUTHORIZED
    assert not payment.transactions.filter(kind="capture").exists()


def test_capture_of_a_smaller_amount_is_final(authorized):
    payment = authorized("tok_approve")

    payment = payment_capture(payment=payment, amount=Decimal("100.005"))

    assert (payment.status, payment.captured_amount) == (S.DEPOSITED, Decimal("100.01"))
    assert at_gateway(payment).captured_amount == Decimal("100.01")


def test_capture_that_times_out_is_finished_by_a_retry_and_captures_once(authorized):
    payment = authorized("tok_timeout")
    payment_sync(payment=payment)

    with pytest.raises(PaymentGatewayError) as error:
        payment_capture(payment=payment)
    assert error.value.details["outcome"] == "timeout"
    payment.refresh_from_db()
    assert (payment.status, payment.pending_operation) == (S.AUTHORIZED, Operation.CAPTURE)

    payment = payment_capture(payment=payment)

    assert (payment.status, payment.captured_amount, payment.pending_operation) == (
        S.DEPOSITED,
        Decimal("120.00"),
        Operation.NONE,
    )
    captures = payment.transactions.filter(kind="capture").order_by("pk")
    assert [c.outcome for c in captures] == ["timeout", "success"]
    assert len({c.idempotency_key for c in captures}) == 1
    assert at_gateway(payment).captured_amount == Decimal("120.00")
    assert ledger_matches(payment)


def test_capture_that_times_out_is_finished_by_a_sync(authorized):
    payment = authorized("tok_timeout")
    payment_sync(payment=payment)
    with pytest.raises(PaymentGatewayError):
        payment_capture(payment=payment, idempotency_key="deposit-7")

    payment_sync(payment=payment)

    payment.refresh_from_db()
    assert (payment.status, payment.capture_key) == (S.DEPOSITED, "deposit-7")


def test_a_capture_in_flight_blocks_another_key(authorized):
    payment = authorized("tok_timeout")
    payment_sync(payment=payment)
    payment.refresh_from_db()
    with pytest.raises(PaymentGatewayError):
        payment_capture(payment=payment, idempotency_key="deposit-1")

    with pytest.raises(PaymentError):
        payment_capture(payment=payment, idempotency_key="deposit-2")
    with pytest.raises(PaymentError):
        payment_void(payment=payment)

    assert at_gateway(payment).captured_amount == Decimal("120.00")  # the first one did go through


def test_capture_of_an_expired_authorization_is_refused(authorized, travel):
    payment = authorized("tok_expiring")
    travel(timezone.now() + timedelta(hours=2))

    with pytest.raises(PaymentError):
        payment_capture(payment=payment)

    assert at_gateway(payment).captured_amount == 0


@pytest.mark.parametrize("token", ["tok_decline", "tok_review", "tok_pending"])
def test_only_an_authorized_payment_can_be_captured(authorized, token):
    payment = authorized(token)

    with pytest.raises(InvalidTransition):
        payment_capture(payment=payment)


def test_capture_rounds_to_the_currency_minor_unit_in_yen(store):
    order = OrderFactory(store=store, currency=CurrencyFactory(code="JPY"), grand_total=Decimal("15000"))
    payment = payment_create(order=order, method="card", token="tok_approve")
    payment_authorize(payment=payment)

    payment = payment_capture(payment=payment, amount=Decimal("9999.5"))

    assert payment.captured_amount == Decimal("10000")
    assert at_gateway(payment).captured_amount == Decimal("10000")


# Refunds.


def test_partial_refunds_up_to_what_was_captured(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)

    payment = payment_refund(payment=payment, amount=Decimal("20.00"), reason="Damaged mug.")
    assert (payment.status, payment.refunded_amount) == (S.PARTIALLY_REFUNDED, Decimal("20.00"))

    payment = payment_refund(payment=payment, amount=Decimal("100.00"))
    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, Decimal("120.00"))
    assert at_gateway(payment).refunded_amount == Decimal("120.00")
    assert ledger_matches(payment)
    assert payment.order.events.filter(message__contains="refunded", reason="Damaged mug.").exists()


def test_refunds_are_capped_at_what_is_left(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)
    payment = payment_refund(payment=payment, amount=Decimal("100.00"))

    with pytest.raises(PaymentError) as error:
        payment_refund(payment=payment, amount=Decimal("20.01"))

    assert error.value.details["refundable_amount"] == "20.00"
    assert payment.refunded_amount == Decimal("100.00")
    assert at_gateway(payment).refunded_amount == Decimal("100.00")


def test_nothing_is_refunded_before_a_capture(authorized):
    payment = authorized("tok_approve")

    with pytest.raises(InvalidTransition):
        payment_refund(payment=payment, amount=Decimal("1.00"))


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.004"), Decimal("-5")])
def test_a_refund_must_be_positive_after_rounding(authorized, amount):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)

    with pytest.raises(ValidationFailed):
        payment_refund(payment=payment, amount=amount)


def test_refund_that_times_out_is_sent_again_by_a_retry_not_twice(authorized):
    payment = authorized("tok_timeout")
    payment_sync(payment=payment)
    with pytest.raises(PaymentGatewayError):
        payment_capture(payment=payment)
    payment = payment_capture(payment=payment)

    with pytest.raises(PaymentGatewayError):
        payment_refund(payment=payment, amount=Decimal("30.00"))
    with pytest.raises(PaymentError):
        payment_refund(payment=payment, amount=Decimal("10.00"))  # another refund waits
    payment = payment_refund(payment=payment, amount=Decimal("30.00"))

    assert payment.refunded_amount == Decimal("30.00")
    assert at_gateway(payment).refunded_amount == Decimal("30.00")
    assert ledger_matches(payment)


# Void.


def test_void_releases_the_authorization(authorized):
    payment = authorized("tok_approve")

    payment = payment_void(payment=payment)
    payment = payment_void(payment=payment)

    assert payment.status == S.VOIDED
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED
    assert payment.transactions.filter(kind="void").count() == 1


def test_a_deposited_payment_cannot_be_voided(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)

    with pytest.raises(InvalidTransition):
        payment_void(payment=payment)


def test_voiding_a_lapsed_authorization_marks_it_expired(authorized, travel):
    payment = authorized("tok_expiring")
    travel(timezone.now() + timedelta(hours=2))

    payment = payment_void(payment=payment)

    assert payment.status == S.EXPIRED
    assert not payment.transactions.filter(kind="void").exists()


# Cancellation.


def test_cancel_voids_a_new_payment_without_the_gateway(pay):
    payment = pay("tok_approve")

    payment = payment_cancel(payment=payment, reason="Customer changed their mind.")

    assert (payment.status, payment.status_reason) == (S.VOIDED, "Customer changed their mind.")
    assert not payment.transactions.exists()


def test_cancel_voids_an_authorization_at_the_gateway(authorized):
    payment = authorized("tok_approve")

    payment = payment_cancel(payment=payment)

    assert payment.status == S.VOIDED
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED


def test_cancel_refunds_what_was_captured(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)
    payment = payment_refund(payment=payment, amount=Decimal("20.00"))

    payment = payment_cancel(payment=payment)

    assert (payment.status, payment.refunded_amount) == (S.REFUNDED, Decimal("120.00"))
    assert at_gateway(payment).refunded_amount == Decimal("120.00")


@pytest.mark.parametrize("token", ["tok_approve", "tok_decline", "tok_review"])
def test_cancel_is_idempotent(authorized, token):
    payment = authorized(token)
    payment = payment_cancel(payment=payment)
    calls = payment.transactions.count()

    payment = payment_cancel(payment=payment)

    assert payment.status == S.VOIDED
    assert payment.transactions.count() == calls


def test_cancel_of_a_pending_payment_voids_what_the_gateway_approved_meanwhile(authorized):
    payment = authorized("tok_pending")

    payment = payment_cancel(payment=payment)

    assert payment.status == S.VOIDED
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED


def test_cancel_whose_void_times_out_is_finished_by_a_sync(authorized):
    payment = authorized("tok_timeout")  # the authorization's answer was lost

    payment = payment_cancel(payment=payment)
    assert (payment.status, payment.pending_operation) == (S.VOIDED, Operation.VOID)
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED  # carried out, answer lost

    payment_sync(payment=payment)

    payment.refresh_from_db()
    assert (payment.status, payment.pending_operation) == (S.VOIDED, Operation.NONE)
    assert kinds_and_outcomes(payment)[-2:] == [("void", "timeout"), ("void", "success")]


def test_cancel_also_voids_an_earlier_authorization_a_declined_reauthorization_left(authorized, settings):
    payment = authorized(method="bill_me")
    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.decline_all_accounts"
    assert payment_reauthorize(payment=payment, amount=Decimal("150.00")) == D.NO
    current = Payment.objects.get(is_current=True)

    current = payment_cancel(payment=current)

    payment.refresh_from_db()
    assert (current.status, payment.status) == (S.VOIDED, S.VOIDED)


# Keeping the authorization valid: check at release, reauthorization.


def test_check_says_yes_for_a_valid_authorization_of_the_amount(authorized):
    payment = authorized("tok_approve")

    assert payment_check_order_status(payment=payment, amount=Decimal("120.00")) == D.YES

    assert Payment.objects.count() == 1


def test_expired_authorization_is_reauthorized_at_the_check(authorized, travel):
    payment = authorized("tok_expiring")
    travel(timezone.now() + timedelta(hours=2))

    assert payment_check_order_status(payment=payment, amount=Decimal("120.00")) == D.YES

    payment.refresh_from_db()
    current = Payment.objects.get(is_current=True)
    assert (payment.status, payment.is_current) == (S.EXPIRED, False)
    assert (current.status, current.replaces, current.approved_amount) == (S.AUTHORIZED, payment, Decimal("120.00"))
    assert current.expires_at > timezone.now()


def test_changed_amount_is_reauthorized_and_the_old_authorization_voided(authorized):
    payment = authorized("tok_approve")

    assert payment_check_order_status(payment=payment, amount=Decimal("95.50")) == D.YES

    payment.refresh_from_db()
    current = Payment.objects.get(is_current=True)
    assert (current.amount, current.approved_amount, current.status) == (
        Decimal("95.50"),
        Decimal("95.50"),
        S.AUTHORIZED,
    )
    assert payment.status == S.VOIDED
    assert at_gateway(payment).state == SimulatedAuthorization.State.VOIDED
    assert payment_check_order_status(payment=payment, amount=Decimal("95.50")) == D.YES  # a stale handle works


@pytest.mark.parametrize(("token", "decision"), [("tok_review", D.REVIEW), ("tok_decline", D.NO)])
def test_check_reports_review_and_decline_without_reauthorizing(authorized, token, decision):
    payment = authorized(token)

    assert payment_check_order_status(payment=payment, amount=Decimal("120.00")) == decision

    assert Payment.objects.count() == 1


def test_check_of_a_pending_payment_polls_it(authorized):
    payment = authorized("tok_pending")

    assert payment_check_order_status(payment=payment, amount=Decimal("120.00")) == D.YES


def test_reauthorize_ahead_of_expiry_replaces_the_authorization(authorized):
    payment = authorized("tok_approve")

    assert payment_reauthorize(payment=payment) == D.YES

    payment.refresh_from_db()
    current = Payment.objects.get(is_current=True)
    assert current.amount == payment.amount
    assert payment.status == S.VOIDED
    assert SimulatedAuthorization.objects.filter(state="approved").get().reference == current.authorization_reference


def test_reauthorization_in_review_holds_the_new_authorization_and_voids_the_old(authorized, settings):
    payment = authorized("tok_review")
    payment = payment_approve_review(payment=payment, acting_user=StaffUserFactory())

    assert payment_check_order_status(payment=payment, amount=Decimal("130.00")) == D.REVIEW

    payment.refresh_from_db()
    assert payment.status == S.VOIDED
    assert Payment.objects.get(is_current=True).status == S.REVIEW


def test_pending_reauthorization_keeps_the_old_authorization_until_it_is_approved(authorized):
    payment = authorized("tok_pending")
    payment_sync(payment=payment)

    assert payment_reauthorize(payment=payment) == D.WORKING
    payment.refresh_from_db()
    assert payment.status == S.AUTHORIZED
    current = Payment.objects.get(is_current=True)

    assert payment_sync(payment=current) == D.YES

    payment.refresh_from_db()
    assert payment.status == S.VOIDED


@pytest.mark.parametrize("token", ["tok_review", "tok_pending"])
def test_reauthorize_refuses_a_payment_waiting_for_an_answer_or_a_review(authorized, token):
    payment = authorized(token)

    with pytest.raises(InvalidTransition):
        payment_reauthorize(payment=payment)


def test_cancel_after_a_failed_authorization_sends_nothing_more(authorized):
    payment = authorized("tok_error")

    payment = payment_cancel(payment=payment)

    assert (payment.status, payment.pending_operation) == (S.VOIDED, Operation.NONE)
    assert kinds_and_outcomes(payment) == [("authorize", "error")]
    assert SimulatedGatewayRecord.objects.count() == 1


# A process that dies between the gateway call and recording its answer.


def test_authorization_sent_before_a_crash_is_found_by_the_sync_not_sent_twice(pay):
    payment = pay("tok_approve")
    with transaction.atomic():  # what payment_authorize commits before calling the gateway
        payment.begin_authorization(idempotency_key=payment.next_key("authorize"))
        payment.save()
    get_gateway("simulated").authorize(
        token="tok_approve", amount=Decimal("120.00"), currency="USD", idempotency_key=payment.authorize_key
    )  # the call went out; the process died before recording the answer

    assert payment_sync(payment=payment) == D.YES

    payment.refresh_from_db()
    assert payment.status == S.AUTHORIZED
    assert SimulatedAuthorization.objects.count() == 1
    assert payment.authorization_reference == SimulatedAuthorization.objects.get().reference


def test_capture_sent_before_a_crash_is_counted_once_by_the_sync(authorized):
    payment = authorized("tok_approve")
    with transaction.atomic():  # what payment_capture commits before calling the gateway
        payment.start_operation(Operation.CAPTURE, idempotency_key="deposit-1", amount=Decimal("120.00"))
        payment.save()
    get_gateway("simulated").capture(
        reference=payment.authorization_reference,
        amount=Decimal("120.00"),
        currency="USD",
        idempotency_key="deposit-1",
    )

    payment_sync(payment=payment)

    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount, payment.capture_key) == (
        S.DEPOSITED,
        Decimal("120.00"),
        "deposit-1",
    )
    assert at_gateway(payment).captured_amount == Decimal("120.00")
    assert ledger_matches(payment)
