"""Payment invariants held by the database, and the payment state machine."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from commerce.roles import PAYMENT_APPROVER, WAREHOUSE
from payments.models import AcceptPolicy, Payment, PaymentStatus, PaymentTransaction
from tests.factories.payments import PaymentFactory

pytestmark = pytest.mark.django_db

S = PaymentStatus


def refused(**changes) -> bool:
    payment = PaymentFactory(status=S.AUTHORIZED, approved_amount=Decimal("120.00"))
    try:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(**changes)
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    "changes",
    [
        {"captured_amount": Decimal("120.01")},
        {"captured_amount": Decimal("50.00"), "refunded_amount": Decimal("50.01")},
        {"amount": Decimal("-0.01")},
        {"approved_amount": Decimal("-1")},
        {"pending_operation": "capture"},
        {"pending_key": "k"},
    ],
)
def test_the_database_refuses_broken_amounts_and_half_marked_operations(changes):
    assert refused(**changes)


def test_the_database_accepts_a_full_capture_and_refund():
    assert not refused(captured_amount=Decimal("120.00"), refunded_amount=Decimal("120.00"))


def test_an_order_has_one_current_payment():
    payment = PaymentFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(order=payment.order)

    assert PaymentFactory(order=payment.order, is_current=False).pk


def test_a_gateway_answer_counts_once_per_kind_and_key():
    payment = PaymentFactory()
    fields = {"payment": payment, "kind": "capture", "currency": payment.currency, "idempotency_key": "k"}
    PaymentTransaction.objects.create(**fields, outcome="success", applied=True)
    PaymentTransaction.objects.create(**fields, outcome="success", applied=False)  # a replay, logged

    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentTransaction.objects.create(**fields, outcome="success", applied=True)


def test_the_status_is_never_assigned():
    payment = PaymentFactory()

    with pytest.raises(AttributeError):
        payment.status = S.AUTHORIZED


TRANSITIONS = [
    "begin_authorization",
    "approve",
    "hold_for_review",
    "decline",
    "approve_review",
    "decline_review",
    "capture",
    "refund",
    "void",
    "expire",
]
# Written out from the design, independently of the decorators: status -> transitions it allows.
ALLOWED = {
    S.NEW: {"begin_authorization", "void"},
    S.PENDING: {"approve", "hold_for_review", "decline", "void"},
    S.AUTHORIZED: {"capture", "void", "expire"},
    S.REVIEW: {"approve_review", "decline_review", "void", "expire"},
    S.DECLINED: {"void"},
    S.DEPOSITED: {"refund", "capture"},  # a further partial capture, up to the approval (DESIGN section 18)
    S.PARTIALLY_REFUNDED: {"refund"},
    S.REFUNDED: set(),
    S.VOIDED: set(),
    S.EXPIRED: set(),
}


@pytest.mark.parametrize("status", list(S))
def test_transition_table(status):
    payment = PaymentFactory.build(status=status)

    allowed = {name for name in TRANSITIONS if can_proceed(getattr(payment, name), check_conditions=False)}

    assert allowed == ALLOWED[status]


def test_a_partial_refund_is_partially_refunded_and_the_rest_refunded():
    payment = PaymentFactory(status=S.DEPOSITED, approved_amount=Decimal("120"), captured_amount=Decimal("120"))

    payment.refund(amount=Decimal("20"))
    assert payment.status == S.PARTIALLY_REFUNDED
    payment.refund(amount=Decimal("100"))
    assert payment.status == S.REFUNDED


def test_expire_needs_the_authorization_to_have_lapsed():
    valid = PaymentFactory.build(status=S.AUTHORIZED, expires_at=timezone.now() + timedelta(minutes=1))
    lapsed = PaymentFactory.build(status=S.AUTHORIZED, expires_at=timezone.now() - timedelta(minutes=1))

    assert (can_proceed(valid.expire), can_proceed(lapsed.expire)) == (False, True)


def test_accept_policy_validates_method_and_check_results(store):
    with pytest.raises(ValidationError) as error:
        AcceptPolicy(store=store, method="barter", review_avs_results=["maybe"]).full_clean()

    assert set(error.value.message_dict) == {"method", "review_avs_results"}
    AcceptPolicy(store=store, method="card", review_avs_results=["mismatch", "unavailable"]).full_clean()


def test_payment_approvers_may_review_payments(roles):
    def grants(role):
        return roles[role].permissions.filter(content_type__app_label="payments", codename="review_payment").exists()

    assert (grants(PAYMENT_APPROVER), grants(WAREHOUSE)) == (True, False)


@pytest.mark.django_db
def test_a_partly_captured_payment_takes_another_capture_and_a_fully_captured_one_does_not():
    partly = PaymentFactory(status=S.DEPOSITED, approved_amount=Decimal("120"), captured_amount=Decimal("50"))
    fully = PaymentFactory(status=S.DEPOSITED, approved_amount=Decimal("120"), captured_amount=Decimal("120"))

    assert (can_proceed(partly.capture), can_proceed(fully.capture)) == (True, False)
