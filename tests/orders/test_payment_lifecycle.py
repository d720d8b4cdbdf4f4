"""DESIGN section 16: backorder fill checks first, fulfillment failure, reauthorization review after release."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from commerce.jobs import job_run
from commerce.models import Product
from fulfillment.batches import pick_batch_create
from fulfillment.models import FulfillmentCenter, Release
from fulfillment.services import inventory_receive
from fulfillment.shipping import package_confirm_shipment, package_create
from orders import services
from orders.exceptions import PAYMENT_DECLINED_AFTER_RELEASE, exceptions_queue
from orders.jobs import BALANCE_PAYMENT, PROCESS_BACKORDERS, REAUTHORIZE_PAYMENTS, RELEASE_TO_FULFILLMENT
from orders.models import Order
from payments.models import Payment, PaymentTransaction, SimulatedAuthorization
from payments.selectors import payment_current
from tests.orders.conftest import place, user

pytestmark = pytest.mark.django_db


def receive(sku: str, quantity: int) -> None:
    inventory_receive(
        fulfillment_center=FulfillmentCenter.objects.get(code="EAST"),
        product=Product.objects.get(sku=sku),
        quantity=quantity,
    )


def kinds(order: Order) -> list[str]:
    return list(PaymentTransaction.objects.filter(payment__order=order).order_by("pk").values_list("kind", flat=True))


def backorder(as_user) -> Order:
    order = Order.objects.get(number=place(as_user("alice"), ("DEMO-MUG", 8)).json()["number"])
    assert order.status == "B"
    return order


def ship(order: Order) -> Order:
    for release in Release.objects.filter(order=order, status=Release.Status.READY):
        pick_batch_create(fulfillment_center=release.fulfillment_center, actor_name="warehouse")
    for release in Release.objects.filter(order=order, status=Release.Status.BATCHED).order_by("pk"):
        package = package_create(release=release, carrier="UPS", tracking_number=f"1Z{release.pk:08d}")
        package_confirm_shipment(package=package)
    return Order.objects.get(pk=order.pk)


# Backorder fill only checks.


def test_backorder_fill_keeps_a_valid_authorization_one_authorization_no_void(as_user):
    order = backorder(as_user)
    original = payment_current(order=order)
    receive("DEMO-MUG", 20)

    run = job_run(spec=PROCESS_BACKORDERS)

    order.refresh_from_db()
    assert (run.succeeded, run.failed) == (1, 0)
    assert order.status == "C"
    assert payment_current(order=order).pk == original.pk
    assert Payment.objects.filter(order=order).count() == 1
    assert kinds(order) == ["authorize", "status"]  # one authorization, one status check, no void


def test_backorder_fill_reauthorizes_when_the_gateway_reports_the_authorization_voided(as_user):
    order = backorder(as_user)
    original = payment_current(order=order)
    SimulatedAuthorization.objects.filter(reference=original.authorization_reference).update(state="voided")
    receive("DEMO-MUG", 20)

    assert services.order_process_backorder(order_id=order.pk) == "succeeded"

    order.refresh_from_db()
    current = payment_current(order=order)
    assert order.status == "C"
    assert current.pk != original.pk and current.status == "authorized"
    assert Payment.objects.get(pk=original.pk).status == "voided"
    assert kinds(order).count("authorize") == 2
    assert "void" not in kinds(order)  # nothing left at the gateway to void


def test_backorder_fill_reauthorizes_an_authorization_expired_at_the_gateway(as_user):
    order = backorder(as_user)
    original = payment_current(order=order)
    SimulatedAuthorization.objects.filter(reference=original.authorization_reference).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    receive("DEMO-MUG", 20)

    services.order_process_backorder(order_id=order.pk)

    assert Payment.objects.get(pk=original.pk).status == "expired"
    assert payment_current(order=order).status == "authorized"
    assert Order.objects.get(pk=order.pk).status == "C"


def test_backorder_fill_reauthorizes_for_another_amount(as_user):
    order = backorder(as_user)
    original = payment_current(order=order)
    SimulatedAuthorization.objects.filter(reference=original.authorization_reference).update(
        approved_amount=original.approved_amount - 1
    )
    receive("DEMO-MUG", 20)

    services.order_process_backorder(order_id=order.pk)

    current = payment_current(order=order)
    assert current.pk != original.pk
    assert current.approved_amount == Order.objects.get(pk=order.pk).grand_total


# Remote fulfillment failure.


def test_fulfillment_failed_takes_the_releases_back_and_the_next_release_checks_the_payment(as_user, staff_in_role):
    from tests.conftest import client_for

    order = Order.objects.get(number=place(as_user("alice"), ("DEMO-TSHIRT", 2)).json()["number"])
    job_run(spec=RELEASE_TO_FULFILLMENT)
    order.refresh_from_db()
    assert order.status == "R"
    clerk = client_for(staff_in_role("Order clerk"))

    response = clerk.post(
        f"/api/v1/backoffice/orders/{order.number}/fulfillment-failed/", {"reason": "3PL out of stock"}, format="json"
    )

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert response.json()["status"] == order.status == "C"
    assert [item.status for item in order.items.all()] == ["C"]
    assert [item.inventory_status for item in order.items.all()] == ["ALLC"]
    assert list(order.releases.values_list("status", flat=True)) == ["cancelled"]
    assert order.payment_check_due
    assert order.events.filter(from_status="R", to_status="C", reason="3PL out of stock").exists()

    job_run(spec=RELEASE_TO_FULFILLMENT)

    order.refresh_from_db()
    assert order.status == "R"
    assert not order.payment_check_due
    assert kinds(order) == ["authorize", "status"]  # asked the gateway before releasing again
    assert order.releases.filter(status=Release.Status.READY).count() == 1


def test_fulfillment_failed_is_refused_for_an_order_not_released(as_user, staff_in_role):
    from tests.conftest import client_for

    number = place(as_user("alice"), ("DEMO-TSHIRT", 2)).json()["number"]
    clerk = client_for(staff_in_role("Order clerk"))
    warehouse = client_for(staff_in_role("Warehouse"))
    url = f"/api/v1/backoffice/orders/{number}/fulfillment-failed/"

    assert clerk.post(url, {}, format="json").json()["error"]["code"] == "invalid_transition"
    assert warehouse.post(url, {}, format="json").status_code == 403


# A reauthorization that needs review is never a dead end.


def authorized_order(as_user, token="tok_approve") -> Order:
    order = Order.objects.get(number=place(as_user("alice"), ("DEMO-TSHIRT", 1), token=token).json()["number"])
    assert order.status == "C"
    return order


def make_expiring(order: Order, token: str = "tok_review") -> None:
    """The authorization lapses within the store's margin, and the card now answers with an AVS mismatch."""
    Payment.objects.filter(order=order, is_current=True).update(
        expires_at=timezone.now() + timedelta(hours=1), token=token
    )


def test_reauthorization_in_review_moves_an_authorized_order_to_payment_review(as_user):
    order = authorized_order(as_user)
    make_expiring(order)

    job_run(spec=REAUTHORIZE_PAYMENTS)

    order.refresh_from_db()
    assert order.status == "A"
    assert payment_current(order=order).status == "review"
    services.order_approve_payment(order=order, acting_user=user("payments"))
    assert Order.objects.get(pk=order.pk).status == "C"


def test_release_check_in_review_moves_c_to_a_once_instead_of_waiting_every_run(
    as_user, django_capture_on_commit_callbacks
):
    order = authorized_order(as_user)
    Payment.objects.filter(order=order, is_current=True).update(
        expires_at=timezone.now() - timedelta(minutes=1), token="tok_review"
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = job_run(spec=RELEASE_TO_FULFILLMENT)
        second = job_run(spec=RELEASE_TO_FULFILLMENT)

    assert Order.objects.get(pk=order.pk).status == "A"
    assert (first.processed, second.processed) == (1, 0)  # A is not the release job's any more
    assert [m.subject for m in mail.outbox if "review" in m.subject.lower()] == [
        f"Payment review needed: order {order.number}, {order.grand_total:.2f} USD"
    ]


def test_review_dead_end_for_a_shipped_order_skipped_by_balance_payment_until_staff_approve(
    as_user, django_capture_on_commit_callbacks
):
    order = authorized_order(as_user)
    job_run(spec=RELEASE_TO_FULFILLMENT)
    order = ship(order)
    assert order.status == "S"
    make_expiring(order)
    job_run(spec=REAUTHORIZE_PAYMENTS)
    assert payment_current(order=order).status == "review"
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        skipped_runs = [job_run(spec=BALANCE_PAYMENT), job_run(spec=BALANCE_PAYMENT)]

    assert [(run.skipped, run.failed) for run in skipped_runs] == [(1, 0), (1, 0)]
    assert Order.objects.get(pk=order.pk).status == "S"
    assert mail.outbox == []  # no e-mail per run

    services.order_approve_payment(order=order, acting_user=user("payments"), reason="Customer confirmed")
    deposit = job_run(spec=BALANCE_PAYMENT)

    order.refresh_from_db()
    assert (deposit.succeeded, deposit.failed) == (1, 0)
    assert order.status == "D"
    assert payment_current(order=order).status == "deposited"


def test_declining_a_shipped_orders_reauthorization_puts_it_in_the_exceptions_queue_with_one_email(
    as_user, django_capture_on_commit_callbacks
):
    order = authorized_order(as_user)
    job_run(spec=RELEASE_TO_FULFILLMENT)
    order = ship(order)
    make_expiring(order)
    job_run(spec=REAUTHORIZE_PAYMENTS)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.order_decline_payment(order=order, acting_user=user("payments"), reason="Card reported stolen")
        run = job_run(spec=BALANCE_PAYMENT)
        again = job_run(spec=BALANCE_PAYMENT)

    order.refresh_from_db()
    assert order.status == "S"
    assert [(run.skipped, run.failed), (again.skipped, again.failed)] == [(1, 0), (1, 0)]
    sections = {section.kind: section for section in exceptions_queue()}
    assert sections[PAYMENT_DECLINED_AFTER_RELEASE].order_numbers == [order.number]
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [f"Payment declined after release: order {order.number} needs a person"]
