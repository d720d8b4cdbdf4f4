"""Accept policies: what a store makes of an authorization answer."""

from decimal import Decimal

import pytest

from payments.gateways.base import GatewayResult, Outcome
from payments.models import AcceptPolicy
from payments.policies import PaymentDecision, Policy, decision_for_status, policy_for
from tests.factories.commerce import CurrencyFactory, ExchangeRateFactory

D = PaymentDecision
APPROVED = GatewayResult(Outcome.SUCCESS, amount=Decimal("120.00"), avs_result="match", cvv_result="match")


def decide(policy: Policy, result: GatewayResult = APPROVED, amount="120.00", currency="USD"):
    return policy.decide(result=result, amount=Decimal(amount), currency=currency)


@pytest.mark.parametrize(
    ("outcome", "decision"),
    [
        (Outcome.SUCCESS, D.YES),
        (Outcome.REVIEW, D.REVIEW),
        (Outcome.DECLINED, D.NO),
        (Outcome.PENDING, D.WORKING),
        (Outcome.TIMEOUT, D.WORKING),
        (Outcome.ERROR, D.WORKING),
    ],
)
def test_the_answer_decides_first(outcome, decision):
    result = GatewayResult(outcome, amount=Decimal("120.00"))

    assert decide(Policy(method="card"), result)[0] == decision


@pytest.mark.parametrize(
    ("avs", "cvv", "decision"),
    [("match", "match", D.YES), ("mismatch", "match", D.REVIEW), ("match", "mismatch", D.REVIEW), ("", "", D.YES)],
)
def test_address_and_security_code_mismatches_go_to_review(avs, cvv, decision):
    result = GatewayResult(Outcome.SUCCESS, amount=Decimal("120.00"), avs_result=avs, cvv_result=cvv)

    assert decide(Policy(method="card"), result)[0] == decision


def test_a_policy_may_ignore_address_mismatches():
    policy = Policy(method="card", review_avs_results=frozenset())
    result = GatewayResult(Outcome.SUCCESS, amount=Decimal("120.00"), avs_result="mismatch")

    assert decide(policy, result)[0] == D.YES


def test_above_the_threshold_goes_to_review_with_the_reason():
    policy = Policy(method="card", review_threshold=Decimal("100.00"), threshold_currency="USD")

    decision, reasons = decide(policy)

    assert decision == D.REVIEW
    assert reasons == ["Above the review threshold of 100.00 USD."]
    assert decide(policy, amount="100.00", result=GatewayResult(Outcome.SUCCESS))[0] == D.YES


@pytest.mark.django_db
def test_the_threshold_is_compared_in_the_store_currency():
    ExchangeRateFactory(from_currency=CurrencyFactory(code="EUR"), to_currency=CurrencyFactory(code="USD"), rate="1.10")
    policy = Policy(method="card", review_threshold=Decimal("100.00"), threshold_currency="USD")
    in_euros = GatewayResult(Outcome.SUCCESS)

    assert decide(policy, in_euros, amount="90.00", currency="EUR")[0] == D.YES  # 99.00 USD
    assert decide(policy, in_euros, amount="91.00", currency="EUR")[0] == D.REVIEW  # 100.10 USD


@pytest.mark.django_db
def test_without_an_exchange_rate_a_person_looks_at_it():
    policy = Policy(method="card", review_threshold=Decimal("100.00"), threshold_currency="USD")

    decision, reasons = decide(policy, GatewayResult(Outcome.SUCCESS), amount="5", currency="JPY")

    assert decision == D.REVIEW
    assert "exchange rate" in reasons[0]


def test_a_partial_approval_goes_to_review():
    result = GatewayResult(Outcome.SUCCESS, amount=Decimal("100.00"))

    assert decide(Policy(method="card"), result) == (D.REVIEW, ["Only 100.00 USD of 120.00 approved."])


def test_a_method_needing_approval_always_goes_to_review():
    assert decide(Policy(method="cod", needs_approval=True))[0] == D.REVIEW


@pytest.mark.django_db
def test_without_a_row_card_falls_back_to_the_store_threshold_and_cod_does_not(store):
    store.review_threshold = Decimal("500.00")

    card, cod = policy_for(store=store, method="card"), policy_for(store=store, method="cod")

    assert (card.review_threshold, card.threshold_currency) == (Decimal("500.00"), "USD")
    assert cod.review_threshold is None
    assert card.accepted and cod.accepted


@pytest.mark.django_db
def test_a_row_overrides_the_defaults(store):
    store.review_threshold = Decimal("500.00")
    AcceptPolicy.objects.create(
        store=store, method="card", needs_approval=True, review_threshold=Decimal("50.00"), review_cvv_results=[]
    )

    policy = policy_for(store=store, method="card")

    assert (policy.needs_approval, policy.review_threshold) == (True, Decimal("50.00"))
    assert (policy.review_avs_results, policy.review_cvv_results) == (frozenset({"mismatch"}), frozenset())


@pytest.mark.django_db
def test_a_row_without_threshold_falls_back_to_the_store_threshold(store):
    store.review_threshold = Decimal("500.00")
    AcceptPolicy.objects.create(store=store, method="card")

    assert policy_for(store=store, method="card").review_threshold == Decimal("500.00")


@pytest.mark.parametrize(
    ("status", "decision"),
    [("new", D.WORKING), ("pending", D.WORKING), ("authorized", D.YES), ("review", D.REVIEW), ("declined", D.NO),
     ("deposited", D.YES), ("partially_refunded", D.YES), ("refunded", D.NO), ("voided", D.NO), ("expired", D.NO)],
)  # fmt: skip
def test_every_status_means_a_decision(status, decision):
    assert decision_for_status(status) == decision
