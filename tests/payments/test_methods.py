"""Payment methods: the registry in the settings, validation, and how each one authorizes."""

from decimal import Decimal

import pytest

from payments.gateways.base import Outcome
from payments.methods import (
    BillMeMethod,
    CardMethod,
    CashOnDeliveryMethod,
    PurchaseOrderMethod,
    get_method,
    method_names,
)
from payments.policies import PaymentDecision
from payments.services import payment_authorize, payment_create

pytestmark = pytest.mark.django_db


def test_the_settings_register_the_four_methods():
    assert method_names() == ["bill_me", "card", "cod", "purchase_order"]
    assert isinstance(get_method("card"), CardMethod)
    assert isinstance(get_method("cod"), CashOnDeliveryMethod)
    assert isinstance(get_method("bill_me"), BillMeMethod)
    assert isinstance(get_method("purchase_order"), PurchaseOrderMethod)
    with pytest.raises(LookupError):
        get_method("barter")


def test_only_card_uses_a_gateway_and_a_token():
    assert [(n, get_method(n).uses_gateway, get_method(n).requires_token) for n in method_names()] == [
        ("bill_me", False, False),
        ("card", True, True),
        ("cod", False, False),
        ("purchase_order", False, False),
    ]


def test_card_uses_the_default_gateway(settings):
    settings.PAYMENT_DEFAULT_GATEWAY = "other"

    assert CardMethod().gateway_name() == "other"


@pytest.mark.parametrize(
    ("token", "problem"),
    [("", "needs a token"), ("4000-0000-0000-0002", "never a card number"), ("x" * 129, "at most 128")],
)
def test_card_validation_names_the_token(order, token, problem):
    assert problem in CardMethod().validate(order=order, token=token)["token"][0]


def test_card_accepts_a_token(order):
    assert CardMethod().validate(order=order, token="tok_approve") == {}


def test_offline_methods_answer_at_once_with_the_amount(pay):
    payment = pay(method="cod")

    result = CashOnDeliveryMethod().capture(payment=payment, amount=Decimal("10.00"), idempotency_key="k")

    assert (result.outcome, result.amount, result.reference) == (
        Outcome.SUCCESS,
        Decimal("10.00"),
        f"offline-{payment.key}",
    )


def test_bill_me_asks_the_hook_about_the_amount(pay, settings):
    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.approve_small_amounts"

    small = BillMeMethod().authorize(payment=pay(method="bill_me", amount=Decimal("100.00")), idempotency_key="k")
    payment_large = pay(method="bill_me", amount=Decimal("100.01"))
    large = BillMeMethod().authorize(payment=payment_large, idempotency_key="k")

    assert (small.outcome, large.outcome) == (Outcome.SUCCESS, Outcome.DECLINED)


def test_bill_me_turns_a_failing_hook_into_an_error_answer(pay, settings):
    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.unreachable_accounts"

    result = BillMeMethod().authorize(payment=pay(method="bill_me"), idempotency_key="k")

    assert result.outcome == Outcome.ERROR
    assert "unreachable" in result.error


def test_a_store_can_plug_in_its_own_method(order, settings):
    settings.PAYMENT_METHODS = {**settings.PAYMENT_METHODS, "gift_card": "tests.payments.hooks.GiftCardMethod"}
    payment = payment_create(order=order, method="gift_card")

    assert payment_authorize(payment=payment) == PaymentDecision.REVIEW
