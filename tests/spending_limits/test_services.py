import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from commerce.errors import NoExchangeRate
from orders.models import OrderEvent
from spending_limits.errors import PurchaseOrderInvalid, SpendingLimitExceeded
from spending_limits.models import (
    AgreementState,
    PurchaseOrder,
    PurchaseOrderPurchase,
    PurchaseOrderRefund,
    TradingAgreementPurchase,
    TradingAgreementRefund,
)
from spending_limits.selectors import purchase_order_remaining, trading_agreement_remaining
from spending_limits.services import (
    spending_limits_charge,
    spending_limits_check,
    spending_limits_check_for_release,
    spending_limits_credit,
)
from tests.factories.commerce import CurrencyFactory, ExchangeRateFactory, OrganizationFactory
from tests.factories.spending_limits import PurchaseOrderFactory, TradingAgreementFactory, b2b_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory(code="acme")


@pytest.fixture
def agreement(org):
    return TradingAgreementFactory(organization=org, number="TA-USD", limit_amount=Decimal("1000.00"))


def eur_agreement(org, limit="10000.00", **kwargs):
    return TradingAgreementFactory(
        organization=org, number="TA-EUR", currency=CurrencyFactory(code="EUR"), limit_amount=Decimal(limit), **kwargs
    )


def usd_to(code: str, rate: str):
    return ExchangeRateFactory(
        from_currency=CurrencyFactory(code="USD"), to_currency=CurrencyFactory(code=code), rate=Decimal(rate)
    )


# Consumer orders and the purchase amount.


def test_consumer_order_passes_and_writes_nothing():
    order = b2b_order(None, [("50.00", None)])

    spending_limits_check(order=order)
    rows = spending_limits_charge(order=order)

    assert rows == []
    assert not TradingAgreementPurchase.objects.exists()
    assert not PurchaseOrderPurchase.objects.exists()
    assert not order.events.exists()


def test_charge_writes_one_row_for_an_order_whose_items_share_the_agreement(org, agreement):
    order = b2b_order(
        org,
        [("100.00", agreement), ("50.00", agreement)],
        tax_rate="0.08",
        shipping="5.00",
        shipping_tax="0.40",
        adjustment="1.00",
    )

    [row] = spending_limits_charge(order=order)

    # (100 + 8 + 5 + 0.40 - 1) + (50 + 4 + 5 + 0.40 - 1): DESIGN section 4, equal to the grand total.
    assert row.order_item is None
    assert row.order_amount == Decimal("170.80") == order.grand_total
    assert row.amount == Decimal("170.80")
    assert row.currency_id == "USD"
    assert row.exchange_rate == Decimal("1")
    assert trading_agreement_remaining(agreement=agreement) == Decimal("829.20")


def test_charging_the_same_order_twice_writes_nothing_the_second_time(org, agreement):
    order = b2b_order(org, [("100.00", agreement)])
    first = spending_limits_charge(order=order)

    second = spending_limits_charge(order=order)

    assert len(first) == 1
    assert second == []
    assert TradingAgreementPurchase.objects.filter(order=order).count() == 1
    assert trading_agreement_remaining(agreement=agreement) == Decimal("900.00")
    assert order.events.filter(kind=OrderEvent.Kind.SPENDING_LIMIT).count() == 1


def test_charge_records_an_order_event_naming_the_agreement_and_amount(org):
    agreement = TradingAgreementFactory(organization=org, limit_amount=None, number="TA-X")
    order = b2b_order(org, [("1234.00", agreement)])

    spending_limits_charge(order=order)

    event = order.events.get(kind=OrderEvent.Kind.SPENDING_LIMIT)
    assert event.message == "Spending limits charged: TA-X 1,234.00 USD"
    assert event.extra["rows"][0]["amount"] == "1234.00"


# Currency conversion.


def test_usd_order_against_eur_agreement_is_charged_the_converted_amount_and_keeps_the_rate(org):
    usd_to("EUR", "0.92")
    agreement = eur_agreement(org)
    order = b2b_order(org, [("1234.56", agreement)])

    [row] = spending_limits_charge(order=order)

    assert row.amount == Decimal("1135.80")  # 1234.56 x 0.92 = 1135.7952
    assert row.currency_id == "EUR"
    assert row.order_amount == Decimal("1234.56")
    assert row.order_currency_id == "USD"
    row.refresh_from_db()
    assert row.exchange_rate == Decimal("0.92")
    assert trading_agreement_remaining(agreement=agreement) == Decimal("8864.20")


def test_conversion_rounds_half_up_to_the_cent(org):
    usd_to("EUR", "0.85")
    agreement = eur_agreement(org)
    order = b2b_order(org, [("10.10", agreement)])

    [row] = spending_limits_charge(order=order)

    assert row.amount == Decimal("8.59")  # 8.585: half-up, not to even


def test_conversion_uses_the_inverse_of_the_reverse_rate(org):
    ExchangeRateFactory(
        from_currency=CurrencyFactory(code="EUR"), to_currency=CurrencyFactory(code="USD"), rate=Decimal("1.087")
    )
    agreement = eur_agreement(org)
    order = b2b_order(org, [("100.00", agreement)])

    [row] = spending_limits_charge(order=order)

    row.refresh_from_db()
    assert row.amount == Decimal("92.00")  # 100 / 1.087 = 91.9963...
    assert row.exchange_rate == Decimal("0.91996320")


def test_jpy_agreement_is_charged_whole_yen(org):
    usd_to("JPY", "151.37")
    agreement = TradingAgreementFactory(
        organization=org, currency=CurrencyFactory(code="JPY"), limit_amount=Decimal("1000000")
    )
    order = b2b_order(org, [("10.99", agreement)])

    [row] = spending_limits_charge(order=order)

    assert row.amount == Decimal("1664")  # 10.99 x 151.37 = 1663.5563
    assert trading_agreement_remaining(agreement=agreement) == Decimal("998336")


def test_missing_exchange_rate_is_a_clear_error_and_writes_nothing(org):
    agreement = TradingAgreementFactory(
        organization=org, currency=CurrencyFactory(code="JPY"), limit_amount=Decimal("1000000")
    )
    order = b2b_order(org, [("10.00", agreement)])

    with pytest.raises(NoExchangeRate) as raised:
        spending_limits_charge(order=order)

    assert raised.value.code == "no_exchange_rate"
    assert raised.value.details == {"from_currency": "USD", "to_currency": "JPY"}
    assert not TradingAgreementPurchase.objects.exists()


# Limits.


def test_order_over_the_agreement_limit_is_refused_with_the_numbers(org, agreement):
    spending_limits_charge(order=b2b_order(org, [("700.00", agreement)]))
    order = b2b_order(org, [("300.01", agreement)])

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_charge(order=order)

    error = raised.value
    assert error.code == "spending_limit_exceeded"
    assert error.status_code == 409
    assert "300.01 USD" in error.message
    assert "300.00 USD" in error.message
    assert "1,000.00 USD" in error.message
    assert error.details == {
        "kind": "trading_agreement",
        "number": "TA-USD",
        "limit": "1000.00",
        "remaining": "300.00",
        "order_amount": "300.01",
        "currency": "USD",
    }
    assert TradingAgreementPurchase.objects.filter(order=order).count() == 0


def test_order_taking_exactly_what_remains_is_charged(org, agreement):
    spending_limits_charge(order=b2b_order(org, [("700.00", agreement)]))

    rows = spending_limits_charge(order=b2b_order(org, [("300.00", agreement)]))

    assert len(rows) == 1
    assert trading_agreement_remaining(agreement=agreement) == Decimal("0.00")


def test_unlimited_agreement_is_charged_without_a_limit(org):
    agreement = TradingAgreementFactory(organization=org, limit_amount=None)

    [row] = spending_limits_charge(order=b2b_order(org, [("99999.00", agreement)]))

    assert row.amount == Decimal("99999.00")
    assert trading_agreement_remaining(agreement=agreement) is None


def test_items_under_different_agreements_are_each_charged_per_item(org, agreement):
    other = TradingAgreementFactory(organization=org, number="TA-OTHER", limit_amount=Decimal("500.00"))
    order = b2b_order(org, [("100.00", agreement), ("40.00", agreement), ("200.00", other), ("5.00", None)])
    first, second, third = order.items.order_by("pk")[:3]

    rows = spending_limits_charge(order=order)

    charged = {(row.trading_agreement.number, row.order_item_id): row.amount for row in rows}
    assert charged == {
        ("TA-USD", first.pk): Decimal("100.00"),
        ("TA-USD", second.pk): Decimal("40.00"),
        ("TA-OTHER", third.pk): Decimal("200.00"),
    }
    assert trading_agreement_remaining(agreement=agreement) == Decimal("860.00")
    assert trading_agreement_remaining(agreement=other) == Decimal("300.00")


def test_each_agreement_is_checked_against_its_own_items_and_nothing_is_half_written(org, agreement):
    small = TradingAgreementFactory(organization=org, number="TA-SMALL", limit_amount=Decimal("50.00"))
    order = b2b_order(org, [("900.00", agreement), ("60.00", small)])

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_charge(order=order)

    assert raised.value.details["number"] == "TA-SMALL"
    assert raised.value.details["order_amount"] == "60.00"
    assert not TradingAgreementPurchase.objects.exists()


# Agreement validity.


@pytest.mark.parametrize(
    ("changes", "reason", "message"),
    [
        ({"state": AgreementState.SUSPENDED}, "not_active", "Trading agreement TA-USD is suspended."),
        ({"state": AgreementState.CLOSED}, "not_active", "Trading agreement TA-USD is closed."),
        (
            {"valid_until": timezone.now() - timedelta(days=1)},
            "expired",
            "Trading agreement TA-USD expired on",
        ),
        (
            {"valid_from": timezone.now() + timedelta(days=1)},
            "not_yet_valid",
            "Trading agreement TA-USD is not valid before",
        ),
    ],
)
def test_agreement_not_active_or_outside_its_window_is_refused_with_its_own_message(
    org, agreement, changes, reason, message
):
    for field, value in changes.items():
        setattr(agreement, field, value)
    agreement.save()
    order = b2b_order(org, [("10.00", agreement)])

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_check(order=order)

    assert raised.value.details["reason"] == reason
    assert raised.value.message.startswith(message)


def test_agreement_inside_its_window_is_accepted(org):
    agreement = TradingAgreementFactory(
        organization=org,
        valid_from=timezone.now() - timedelta(days=1),
        valid_until=timezone.now() + timedelta(days=1),
    )

    assert len(spending_limits_charge(order=b2b_order(org, [("10.00", agreement)]))) == 1


def test_agreement_of_another_organization_is_refused(org):
    foreign = TradingAgreementFactory(organization=OrganizationFactory(code="other"))
    order = b2b_order(org, [("10.00", foreign)])

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_charge(order=order)

    assert raised.value.details["reason"] == "other_organization"
    assert not TradingAgreementPurchase.objects.exists()


# Purchase orders.


def test_missing_po_number_where_the_agreement_requires_one_is_refused(org):
    agreement = TradingAgreementFactory(organization=org, number="TA-PO", requires_purchase_order=True)
    order = b2b_order(org, [("10.00", agreement)])

    with pytest.raises(PurchaseOrderInvalid) as raised:
        spending_limits_check(order=order)

    assert raised.value.code == "purchase_order_invalid"
    assert raised.value.status_code == 409
    assert raised.value.message == "Trading agreement TA-PO requires a purchase order number."


def test_check_resolves_the_purchase_order_and_charge_links_it(org):
    agreement = TradingAgreementFactory(organization=org, requires_purchase_order=True)
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-7", type=PurchaseOrder.Type.BLANKET)
    order = b2b_order(org, [("10.00", agreement)], purchase_order_number="PO-7")

    spending_limits_check(order=order)
    assert order.purchase_order == purchase_order
    rows = spending_limits_charge(order=order)

    order.refresh_from_db()
    assert order.purchase_order_id == purchase_order.pk
    assert {type(row) for row in rows} == {TradingAgreementPurchase, PurchaseOrderPurchase}


def test_unknown_po_number_or_another_organizations_po_is_refused(org):
    PurchaseOrderFactory(organization=OrganizationFactory(code="other"), number="PO-THEIRS")
    order = b2b_order(org, [("10.00", None)], purchase_order_number="PO-THEIRS")

    with pytest.raises(PurchaseOrderInvalid) as raised:
        spending_limits_check(order=order)

    assert raised.value.details == {"reason": "not_found", "purchase_order": "PO-THEIRS"}


def test_po_number_on_a_consumer_order_is_refused():
    order = b2b_order(None, [("10.00", None)], purchase_order_number="PO-1")

    with pytest.raises(PurchaseOrderInvalid) as raised:
        spending_limits_check(order=order)

    assert raised.value.details["reason"] == "no_organization"


def test_closed_po_is_refused_with_its_own_message(org):
    PurchaseOrderFactory(organization=org, number="PO-OLD", state=PurchaseOrder.State.CLOSED)
    order = b2b_order(org, [("10.00", None)], purchase_order_number="PO-OLD")

    with pytest.raises(PurchaseOrderInvalid) as raised:
        spending_limits_charge(order=order)

    assert raised.value.message == "Purchase order PO-OLD is closed."
    assert not PurchaseOrderPurchase.objects.exists()


def test_single_use_po_works_once(org):
    purchase_order = PurchaseOrderFactory(
        organization=org, number="PO-ONCE", type=PurchaseOrder.Type.SINGLE_USE, limit_amount=Decimal("5000.00")
    )
    first = b2b_order(org, [("100.00", None)], purchase_order_number="PO-ONCE")
    second = b2b_order(org, [("100.00", None)], purchase_order_number="PO-ONCE")
    [row] = spending_limits_charge(order=first)

    with pytest.raises(PurchaseOrderInvalid) as raised:
        spending_limits_charge(order=second)

    assert row.purchase_order == purchase_order
    assert raised.value.message == "Purchase order PO-ONCE is single-use and was already used by another order."
    assert raised.value.details["reason"] == "already_used"
    assert spending_limits_charge(order=first) == []  # the order that used it may be charged again: nothing to do
    assert PurchaseOrderPurchase.objects.count() == 1


def test_single_use_po_is_free_again_once_its_order_is_cancelled(org):
    PurchaseOrderFactory(organization=org, number="PO-ONCE", type=PurchaseOrder.Type.SINGLE_USE)
    first = b2b_order(org, [("100.00", None)], purchase_order_number="PO-ONCE")
    spending_limits_charge(order=first)

    spending_limits_credit(order=first, reason="Order cancelled")
    rows = spending_limits_charge(order=b2b_order(org, [("100.00", None)], purchase_order_number="PO-ONCE"))

    assert len(rows) == 1


def test_limited_po_over_its_limit_is_refused_in_its_currency(org):
    usd_to("EUR", "0.92")
    PurchaseOrderFactory(
        organization=org, number="PO-EUR", currency=CurrencyFactory(code="EUR"), limit_amount=Decimal("100.00")
    )
    order = b2b_order(org, [("110.00", None)], purchase_order_number="PO-EUR")

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_charge(order=order)

    assert raised.value.details == {
        "kind": "purchase_order",
        "number": "PO-EUR",
        "limit": "100.00",
        "remaining": "100.00",
        "order_amount": "101.20",
        "currency": "EUR",
    }


def test_blanket_po_is_charged_without_a_limit(org):
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-ANY", type=PurchaseOrder.Type.BLANKET)

    [row] = spending_limits_charge(order=b2b_order(org, [("250000.00", None)], purchase_order_number="PO-ANY"))

    assert row.amount == Decimal("250000.00")
    assert purchase_order_remaining(purchase_order=purchase_order) is None


# Credit.


def test_credit_after_charge_restores_the_remaining_balance_exactly(org):
    usd_to("EUR", "0.92")
    agreement = eur_agreement(org)
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-1", limit_amount=Decimal("2000.00"))
    order = b2b_order(org, [("333.33", agreement), ("0.01", agreement)], purchase_order_number="PO-1")
    spending_limits_charge(order=order)
    assert trading_agreement_remaining(agreement=agreement) == Decimal("9693.33")

    refunds = spending_limits_credit(order=order, reason="Order cancelled")

    assert trading_agreement_remaining(agreement=agreement) == Decimal("10000.00")
    assert purchase_order_remaining(purchase_order=purchase_order) == Decimal("2000.00")
    assert {type(row) for row in refunds} == {TradingAgreementRefund, PurchaseOrderRefund}
    assert all(row.reason == "Order cancelled" for row in refunds)
    assert TradingAgreementRefund.objects.get().exchange_rate == Decimal("0.92")


def test_crediting_twice_writes_nothing_the_second_time(org, agreement):
    order = b2b_order(org, [("100.00", agreement)])
    spending_limits_charge(order=order)
    spending_limits_credit(order=order, reason="Order cancelled")

    again = spending_limits_credit(order=order, reason="Order cancelled")

    assert again == []
    assert TradingAgreementRefund.objects.count() == 1
    assert trading_agreement_remaining(agreement=agreement) == Decimal("1000.00")


def test_credit_of_an_order_never_charged_writes_nothing(org, agreement):
    order = b2b_order(org, [("100.00", agreement)])

    assert spending_limits_credit(order=order, reason="Order cancelled") == []
    assert not order.events.exists()


def test_returned_items_get_their_share_back_and_the_rest_follows_on_cancellation(org):
    usd_to("EUR", "0.85")
    agreement = eur_agreement(org, limit="1000.00")
    order = b2b_order(org, [("10.10", agreement), ("10.10", agreement), ("10.10", agreement)])
    [charge] = spending_limits_charge(order=order)
    assert charge.amount == Decimal("25.76")  # 30.30 x 0.85 = 25.755
    returned = order.items.order_by("pk")[0]

    [item_refund] = spending_limits_credit(order=order, items=[returned], reason="Returned")
    assert spending_limits_credit(order=order, items=[returned], reason="Returned") == []
    rest = spending_limits_credit(order=order, reason="Order cancelled")

    assert item_refund.order_item_id == returned.pk
    assert item_refund.amount == Decimal("8.59")
    assert [row.amount for row in rest] == [Decimal("17.17")]
    assert trading_agreement_remaining(agreement=agreement) == Decimal("1000.00")


def test_per_item_charges_are_credited_item_by_item(org, agreement):
    other = TradingAgreementFactory(organization=org, number="TA-OTHER")
    order = b2b_order(org, [("100.00", agreement), ("30.00", other)])
    spending_limits_charge(order=order)
    second = order.items.order_by("pk")[1]

    [refund] = spending_limits_credit(order=order, items=[second], reason="Returned")

    assert (refund.trading_agreement, refund.order_item_id, refund.amount) == (other, second.pk, Decimal("30.00"))
    assert trading_agreement_remaining(agreement=agreement) == Decimal("900.00")
    assert trading_agreement_remaining(agreement=other) == Decimal("1000.00")


# Release re-check.


def test_release_check_does_not_count_the_orders_own_charge_twice(org, agreement):
    order = b2b_order(org, [("1000.00", agreement)])
    spending_limits_charge(order=order)

    spending_limits_check_for_release(order=order)


def test_release_check_accepts_the_single_use_po_this_order_used(org):
    PurchaseOrderFactory(organization=org, number="PO-ONCE", type=PurchaseOrder.Type.SINGLE_USE)
    order = b2b_order(org, [("100.00", None)], purchase_order_number="PO-ONCE")
    spending_limits_charge(order=order)

    spending_limits_check_for_release(order=order)


def test_release_check_refuses_an_agreement_suspended_since_submit(org, agreement):
    order = b2b_order(org, [("10.00", agreement)])
    spending_limits_charge(order=order)
    agreement.state = AgreementState.SUSPENDED
    agreement.save()

    with pytest.raises(SpendingLimitExceeded) as raised:
        spending_limits_check_for_release(order=order)

    assert raised.value.message == "Trading agreement TA-USD is suspended."


def test_release_check_refuses_a_po_closed_since_submit(org):
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-1")
    order = b2b_order(org, [("10.00", None)], purchase_order_number="PO-1")
    spending_limits_charge(order=order)
    purchase_order.state = PurchaseOrder.State.CLOSED
    purchase_order.save()

    with pytest.raises(PurchaseOrderInvalid):
        spending_limits_check_for_release(order=order)


# Transactions.


def test_charge_runs_inside_the_callers_transaction(org, agreement):
    order = b2b_order(org, [("100.00", agreement)])

    with pytest.raises(RuntimeError), transaction.atomic():
        spending_limits_charge(order=order)
        raise RuntimeError("a later step of the submit failed")

    assert not TradingAgreementPurchase.objects.exists()
    assert trading_agreement_remaining(agreement=agreement) == Decimal("1000.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_never_together_exceed_the_limit():
    org = OrganizationFactory(code="busy")
    agreement = TradingAgreementFactory(organization=org, limit_amount=Decimal("1000.00"))
    orders = [b2b_order(org, [("75.00", agreement)]) for _ in range(20)]
    barrier = threading.Barrier(len(orders))
    outcomes: dict[int, str] = {}

    def charge(order):
        try:
            barrier.wait(timeout=10)
            spending_limits_charge(order=order)
            outcomes[order.pk] = "charged"
        except SpendingLimitExceeded as error:
            outcomes[order.pk] = error.code
        finally:
            connection.close()

    threads = [threading.Thread(target=charge, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    charged = TradingAgreementPurchase.objects.filter(trading_agreement=agreement)
    assert sum(row.amount for row in charged) <= Decimal("1000.00")
    assert sorted(outcomes.values()) == ["charged"] * 13 + ["spending_limit_exceeded"] * 7
    assert charged.count() == 13
    assert trading_agreement_remaining(agreement=agreement) == Decimal("25.00")


def test_charge_takes_the_same_queries_for_one_item_or_ten(org, agreement, django_assert_num_queries):
    PurchaseOrderFactory(organization=org, number="PO-1", limit_amount=Decimal("5000.00"))
    small = b2b_order(org, [("10.00", agreement)], purchase_order_number="PO-1")
    large = b2b_order(org, [("10.00", agreement)] * 10, purchase_order_number="PO-1")

    with django_assert_num_queries(15) as small_queries:
        spending_limits_charge(order=small)
    with django_assert_num_queries(len(small_queries)):
        spending_limits_charge(order=large)
