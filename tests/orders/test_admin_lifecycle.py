"""Admin pages of DESIGN section 16: review after release, fulfillment failure, promotions, credit lines."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from commerce.jobs import job_run
from commerce.models import Organization
from orders.jobs import REAUTHORIZE_PAYMENTS, RELEASE_TO_FULFILLMENT
from orders.models import Order, Promotion
from payments.models import Payment
from tests.orders.conftest import place
from tests.orders.test_admin import action_url, buttons, order_url, staff
from tests.orders.test_payment_lifecycle import ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped_in_review(as_user) -> Order:
    order = Order.objects.get(number=place(as_user("alice"), ("DEMO-TSHIRT", 1)).json()["number"])
    job_run(spec=RELEASE_TO_FULFILLMENT)
    order = ship(order)
    Payment.objects.filter(order=order, is_current=True).update(
        expires_at=timezone.now() + timedelta(hours=1), token="tok_review"
    )
    job_run(spec=REAUTHORIZE_PAYMENTS)
    return Order.objects.get(pk=order.pk)


def test_the_payment_review_queue_lists_a_shipped_order_whose_reauthorization_waits(shipped_in_review):
    page = staff("payments").get("/admin/orders/order/payment-review/", follow=True).content.decode()

    assert 'id="review-after-release"' in page
    assert shipped_in_review.number in page


def test_staff_approve_it_from_the_order_page(shipped_in_review):
    payments = staff("payments")
    assert {"approve_payment", "decline_payment"} <= buttons(payments.get(order_url(shipped_in_review)))

    payments.post(action_url(shipped_in_review, "approve_payment"), {"reason": "Called the customer"})

    assert Payment.objects.get(order=shipped_in_review, is_current=True).status == "authorized"
    assert Order.objects.get(pk=shipped_in_review.pk).status == "S"


def test_the_exceptions_page_lists_a_declined_one(shipped_in_review):
    staff("payments").post(action_url(shipped_in_review, "decline_payment"), {"reason": "Stolen card"})

    page = staff("supervisor").get("/admin/orders/order/exceptions/").content.decode()

    assert "Payment declined after release" in page
    assert shipped_in_review.number in page


def test_the_fulfillment_failed_button_takes_a_released_order_back(as_user):
    order = Order.objects.get(number=place(as_user("alice"), ("DEMO-TSHIRT", 1)).json()["number"])
    job_run(spec=RELEASE_TO_FULFILLMENT)
    clerk = staff("clerk")
    assert "fulfillment_failed" in buttons(clerk.get(order_url(order)))

    clerk.post(action_url(order, "fulfillment_failed"), {"reason": "Carrier refused the pickup"})

    assert Order.objects.get(pk=order.pk).status == "C"
    assert "fulfillment_failed" not in buttons(staff("warehouse").get(order_url(order)))


def test_promotions_are_managed_in_the_admin(demo):
    supervisor = staff("supervisor")
    store = Promotion.objects.get(code="DEMO10").store

    response = supervisor.post(
        "/admin/orders/promotion/add/",
        {
            "store": store.pk,
            "name": "Spring",
            "code": "spring5",
            "kind": "fixed",
            "value": "5.00",
            "minimum_amount": "20.00",
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Promotion.objects.get(code="SPRING5").value == Decimal("5.00")
    listing = supervisor.get("/admin/orders/promotion/").content.decode()
    assert "DEMO10" in listing and "SPRING5" in listing


def test_the_organization_page_shows_credit_used_and_left(as_user, admin_client):
    order = place(as_user("bob"), ("DEMO-HOODIE", 2), method="bill_me", token=None).json()
    acme = Organization.objects.get(code="acme")

    page = admin_client.get(f"/admin/commerce/organization/{acme.pk}/change/").content.decode()

    used = Decimal(order["totals"]["grand_total"])
    assert f"{used} USD" in page
    assert f"{Decimal('50000.00') - used} USD" in page


def test_the_order_page_shows_who_placed_it_for_the_customer(as_user):
    from tests.conftest import client_for
    from tests.orders.conftest import order_body, user

    body = {**order_body(("DEMO-TSHIRT", 1)), "customer": user("alice").customer.number, "coupon": ""}
    number = client_for(user("clerk")).post("/api/v1/backoffice/orders/", body, format="json").json()["number"]

    page = staff("clerk").get(order_url(Order.objects.get(number=number))).content.decode()

    assert "Placed by" in page and ">clerk<" in page
