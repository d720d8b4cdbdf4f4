"""Staff do a day's work in the admin, in a real browser: review, release, pick, print, pack, ship."""

import re

import pytest

from fulfillment.models import Package, PickBatch
from orders.models import Order
from tests.conftest import client_for
from tests.e2e.conftest import CHROMIUM, screenshot
from tests.orders.conftest import place, user

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium is not installed at {CHROMIUM}"),
]


def placed_in_review(sku: str = "DEMO-TSHIRT", quantity: int = 2) -> Order:
    response = place(client_for(user("alice")), (sku, quantity), token="tok_review")
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.status == "A"
    return order


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def messages(page) -> str:
    return page.locator("ul.messagelist").inner_text()


def run_action(page, order: Order, action: str, reason: str = "") -> None:
    """Press the order page's button for ``action``, give the reason, confirm; land back on the order."""
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.click(f"#order-actions a[data-action={action}]")
    if reason:
        page.fill("textarea[name=reason]", reason)
    page.click("#order-action-form button[name=confirm]")
    page.wait_for_url(re.compile(rf"/admin/orders/order/{order.pk}/change/$"))


def test_an_order_goes_from_payment_review_to_shipped_through_the_admin(login):
    order = placed_in_review()

    # The payment approver finds it in the review queue and approves the payment.
    payments = login("payments")
    screenshot(payments, "01-dashboard-payment-approver")
    payments.click("#dashboard-links >> text=Payment review queue")
    assert order.number in payments.locator("#result_list").inner_text()
    screenshot(payments, "02-payment-review-queue")
    payments.click(f"#result_list >> text={order.number}")
    screenshot(payments, "03-order-in-review")
    payments.click("#order-actions a[data-action=approve_payment]")
    payments.fill("textarea[name=reason]", "Called the customer: the address is right")
    screenshot(payments, "04-approve-payment-form")
    payments.click("#order-action-form button[name=confirm]")
    assert "it is now authorized" in messages(payments)
    assert status_of(order) == "C"

    # The clerk releases it now instead of waiting for the job.
    clerk = login("clerk")
    run_action(clerk, order, "release")
    assert "it is now released" in messages(clerk)
    assert status_of(order) == "R"

    # The warehouse creates a pick batch at EAST, prints both documents, packs and ships.
    warehouse = login("warehouse")
    warehouse.click("#dashboard-links >> text=Create a pick batch")
    warehouse.select_option("select[name=fulfillment_center]", label="EAST")
    warehouse.click("input[type=submit]")
    warehouse.wait_for_url(re.compile(r"/admin/fulfillment/pickbatch/\d+/change/$"))
    batch = PickBatch.objects.get()
    assert order.number in warehouse.locator("#packing").inner_text()

    for link in ["Print pick ticket (PDF)", "Print packing slips (PDF)"]:
        href = warehouse.get_by_role("link", name=link).get_attribute("href")
        pdf = warehouse.context.request.get(href)
        assert pdf.status == 200, link
        assert pdf.headers["content-type"] == "application/pdf"
        body = pdf.body()
        assert len(body) > 1000 and body.startswith(b"%PDF-"), link
    assert PickBatch.objects.get().status == "printed"

    row = warehouse.locator(f"#packing tr[data-release^='{order.number}']")
    row.locator("input[name=carrier]").fill("UPS")
    row.locator("input[name=tracking_number]").fill("1Z999AA10123456784")
    row.locator("input[name=weight]").fill("0.8")
    row.locator("button[type=submit]").click()
    warehouse.wait_for_url(re.compile(rf"/admin/fulfillment/pickbatch/{batch.pk}/change/"))
    assert "Packed package" in messages(warehouse)
    screenshot(warehouse, "05-pick-batch-packed")

    warehouse.click("button[data-confirm='1Z999AA10123456784']")
    warehouse.wait_for_load_state()
    assert "Confirmed the shipment of 1 package(s)" in messages(warehouse)
    assert Package.objects.get().status == "shipped"
    screenshot(warehouse, "06-pick-batch-shipped")

    # Everyone sees the order shipped.
    warehouse.goto(f"/admin/orders/order/{order.pk}/change/")
    assert "S · Shipped" in warehouse.locator("#order-header").inner_text()
    assert "UPS 1Z999AA10123456784 (shipped)" in warehouse.content()
    screenshot(warehouse, "07-order-shipped")
    assert status_of(order) == "S"


def test_a_warehouse_user_has_no_approve_button_and_gets_403_on_its_url(login):
    order = placed_in_review()
    warehouse = login("warehouse")

    warehouse.goto(f"/admin/orders/order/{order.pk}/change/")
    response = warehouse.goto(f"/admin/orders/order/{order.pk}/action/approve_payment/")

    assert response.status == 403
    warehouse.goto(f"/admin/orders/order/{order.pk}/change/")
    assert warehouse.locator("#order-actions a").count() == 0
    assert "Approve payment" not in warehouse.locator("#order-header").inner_text()
    assert status_of(order) == "A"


def test_the_supervisor_sees_the_dashboard_queues_and_inventory(login, settings):
    settings.EXCEPTION_THRESHOLDS = {"payment_review_hours": 0}
    order = placed_in_review("DEMO-MUG", 1)
    supervisor = login("supervisor")

    assert supervisor.locator("#dashboard-exceptions a.big").inner_text() == "1"
    screenshot(supervisor, "10-dashboard-supervisor")
    supervisor.click("#dashboard-exceptions a.big")
    assert order.number in supervisor.locator("#payment_review").inner_text()
    screenshot(supervisor, "11-exceptions-queue")

    supervisor.goto("/admin/orders/order/")
    supervisor.click("#status-bar >> text=A · Payment review")
    assert order.number in supervisor.locator("#result_list").inner_text()
    screenshot(supervisor, "12-order-list")

    supervisor.goto(f"/admin/orders/order/{order.pk}/change/")
    screenshot(supervisor, "13-order-page-supervisor")

    supervisor.goto("/admin/fulfillment/stock/check/")
    assert "Inventory is consistent" in supervisor.content()
    screenshot(supervisor, "14-check-inventory")

    supervisor.goto("/admin/fulfillment/stock/")
    screenshot(supervisor, "15-stock-atp")
    supervisor.goto("/admin/spending_limits/tradingagreement/")
    screenshot(supervisor, "16-trading-agreements")
