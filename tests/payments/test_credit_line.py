"""The built-in credit-line check for bill-me and purchase-order payments (DESIGN section 16)."""

from decimal import Decimal

import pytest

from commerce.models import Organization
from orders.models import Order
from payments.credit_line import credit_line_check, organization_credit_line
from payments.policies import PaymentDecision
from payments.selectors import payment_current
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


def acme() -> Organization:
    return Organization.objects.get(code="acme")


def bill_bob(as_user, *items, method="bill_me", **extra):
    return place(as_user("bob"), *items, method=method, token=None, **extra)


def test_acme_has_the_demo_credit_line(demo):
    line = organization_credit_line(organization=acme())

    assert (line.limit, line.currency, line.used, line.left) == (Decimal("50000.00"), "USD", 0, Decimal("50000.00"))


def test_within_the_line_is_authorized_and_uses_it(as_user):
    response = bill_bob(as_user, ("DEMO-HOODIE", 2))

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "C"
    order = Order.objects.get(number=response.json()["number"])
    assert organization_credit_line(organization=acme()).used == order.grand_total


def test_above_the_line_goes_to_payment_review(as_user):
    Organization.objects.filter(code="acme").update(credit_limit=Decimal("100.00"))
    first = bill_bob(as_user, ("DEMO-HOODIE", 1)).json()  # about 53.71 USD: within 100.00
    second = bill_bob(as_user, ("DEMO-HOODIE", 1)).json()  # the open balance plus this one is above it

    assert (first["status"], second["status"]) == ("C", "A")
    order = Order.objects.get(number=second["number"])
    assert payment_current(order=order).status == "review"


def test_an_account_on_hold_is_declined(as_user):
    Organization.objects.filter(code="acme").update(credit_hold=True)

    response = bill_bob(as_user, ("DEMO-HOODIE", 1))

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_declined"


def test_purchase_order_payments_are_checked_too(as_user):
    Organization.objects.filter(code="acme").update(credit_hold=True)

    response = bill_bob(as_user, ("DEMO-CAP", 1), method="purchase_order", purchase_order_number="ACME-PO-BLANKET")

    assert response.status_code == 402


def test_a_method_left_out_of_the_setting_is_not_checked(as_user, settings):
    settings.PAYMENT_EXTERNAL_ACCOUNT_METHODS = ["bill_me"]
    Organization.objects.filter(code="acme").update(credit_hold=True)

    response = bill_bob(as_user, ("DEMO-CAP", 1), method="purchase_order", purchase_order_number="ACME-PO-BLANKET")

    assert response.status_code == 201
    assert response.json()["status"] == "C"


def test_consumers_and_organizations_without_a_line_are_approved(as_user):
    alice = place(as_user("alice"), ("DEMO-HOODIE", 1), method="bill_me", token=None)
    Organization.objects.filter(code="acme").update(credit_limit=None, credit_currency=None)
    bob = bill_bob(as_user, ("DEMO-HOODIE", 1))

    assert (alice.json()["status"], bob.json()["status"]) == ("C", "C")


def test_the_hook_stays_replaceable_by_dotted_path(as_user, settings):
    settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK = "tests.payments.hooks.decline_all_accounts"

    assert bill_bob(as_user, ("DEMO-HOODIE", 1)).status_code == 402


def test_the_checker_answers_in_decisions(demo):
    order = Order(organization=acme(), customer=None)

    assert credit_line_check(customer=None, order=order, amount=Decimal("50000.00"), currency="USD") == "yes"
    assert credit_line_check(customer=None, order=order, amount=Decimal("50000.01"), currency="USD") == "review"
    assert credit_line_check(customer=None, order=order, amount=Decimal("1"), currency="JPY") == PaymentDecision.REVIEW
