"""Staff handle a return in the admin, in a real browser: the queue, approve with an override, receive, credit."""

import re

import pytest

from fulfillment.models import Stock
from orders.returns.models import ReturnRequest
from payments.models import Payment
from tests.e2e.conftest import CHROMIUM, screenshot
from tests.orders.returns import conftest as returns

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium is not installed at {CHROMIUM}"),
]


def messages(page) -> str:
    return page.locator("ul.messagelist").inner_text()


def press(page, rma: ReturnRequest, action: str) -> None:
    page.goto(f"/admin/orders/returnrequest/{rma.pk}/change/")
    page.click(f"#return-actions a[data-action={action}]")


def confirm(page, rma: ReturnRequest) -> None:
    page.click("#return-action-form button[name=confirm]")
    page.wait_for_url(re.compile(rf"/admin/orders/returnrequest/{rma.pk}/change/$"))


def test_a_return_goes_from_the_queue_to_credited_through_the_admin(login):
    order = returns.place_and_ship("alice", ("DEMO-LAPTOP", 1), ("DEMO-TSHIRT", 2), deposit=True)
    asked = returns.ask_return(
        returns.login("alice"), order.number, ("DEMO-LAPTOP", 1, "not_needed"), ("DEMO-TSHIRT", 2, "damaged")
    )
    assert asked.status_code == 201, asked.content
    rma = ReturnRequest.objects.get(number=asked.json()["number"])
    assert rma.status == "PND"

    # The clerk sees it in the dashboard's return queue and opens it.
    clerk = login("clerk")
    queue = clerk.locator("#dashboard-returns")
    assert "Waiting for approval" in queue.inner_text()
    screenshot(clerk, "returns-01-dashboard-queue")
    queue.get_by_role("link", name="Waiting for approval").click()
    assert rma.number in clerk.locator("#result_list").inner_text()
    screenshot(clerk, "returns-02-list")
    clerk.click(f"#result_list >> text={rma.number}")
    assert "Pending approval" in clerk.locator("#return-header").inner_text()
    screenshot(clerk, "returns-03-page-pending")

    # Approve: the deny reasons are shown; the laptop is denied, the T-shirts approved.
    clerk.click("#return-actions a[data-action=approve]")
    laptop = clerk.locator("#return-items tr[data-sku=DEMO-LAPTOP]")
    assert "above the auto-approve limit" in laptop.inner_text()
    laptop.locator("input[name^=approve_]").uncheck()
    laptop.locator("input[name^=reason_]").fill("Opened and used")
    screenshot(clerk, "returns-04-approve-form")
    confirm(clerk, rma)
    assert "is now approved" in messages(clerk)
    statuses = dict(rma.items.values_list("order_item__sku", "status"))
    assert statuses == {"DEMO-LAPTOP": "DNY", "DEMO-TSHIRT": "MAN"}

    # The warehouse receives the T-shirts back into EAST's stock.
    before = Stock.objects.get(product__sku="DEMO-TSHIRT", fulfillment_center__code="EAST").on_hand
    warehouse = login("warehouse")
    press(warehouse, rma, "receive")
    row = warehouse.locator("#return-items tr[data-sku=DEMO-TSHIRT]")
    row.locator("input[name^=quantity_]").fill("2")
    row.locator("select[name^=disposition_]").select_option("restock")
    row.locator("select[name^=center_]").select_option("EAST")
    screenshot(warehouse, "returns-05-receive-form")
    confirm(warehouse, rma)
    assert "Receive goods" in messages(warehouse)
    assert Stock.objects.get(product__sku="DEMO-TSHIRT", fulfillment_center__code="EAST").on_hand == before + 2
    assert "credit" not in [a.get_attribute("data-action") for a in warehouse.locator("#return-actions a").all()]

    # The clerk credits it: the refund and the return's rows are on its page.
    press(clerk, rma, "credit")
    confirm(clerk, rma)
    assert "is now credited and closed" in messages(clerk)
    rma.refresh_from_db()
    assert rma.status == "CLO"
    payment = Payment.objects.get(order=order, is_current=True)
    assert payment.refunded_amount == rma.credit_total > 0
    page = clerk.locator("#content").inner_text()
    assert f"return-{rma.number}" in page
    assert "applied" in page
    screenshot(clerk, "returns-06-page-credited")

    # The order page shows its return.
    clerk.goto(f"/admin/orders/order/{order.pk}/change/")
    assert rma.number in clerk.locator("#content").inner_text()
    screenshot(clerk, "returns-07-order-page")
