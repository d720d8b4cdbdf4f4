"""The flow variants of DESIGN section 18, end to end through the API, the services and the jobs.

The demo stores: ``demo-nonatp`` (non-ATP, commerce payments), ``demo-rules`` (ATP, payment rules: card
early_approval, bill_me approve_on_reservation, cod deposit_only) and ``demo-digital`` (no inventory,
payment rules, card early_approval); the default ``demo`` store is ATP with commerce payments.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command

from fulfillment.batches import pick_batch_create
from fulfillment.models import Allocation, FulfillmentCenter, Package, Stock
from fulfillment.shipping import package_confirm_shipment, package_create
from orders.jobs import run_scheduled_job
from orders.models import Order
from payments.selectors import payment_current
from tests.conftest import client_for
from tests.orders.conftest import place, stock, user

pytestmark = pytest.mark.django_db


def on_hand(sku: str, center: str = "NONATP") -> int:
    return Stock.objects.get(product__sku=sku, fulfillment_center__code=center).on_hand


def load(number: str) -> Order:
    return Order.objects.select_related("store").get(number=number)


def warehouse():
    return client_for(user("warehouse"))


def run(job: str) -> str:
    return run_scheduled_job(job)


def ship_everything(order: Order, capture) -> None:
    """Pick, pack and confirm every ready release of an ATP order, with the commits' callbacks run."""
    for center in FulfillmentCenter.objects.filter(releases__order=order, releases__status="ready").distinct():
        pick_batch_create(fulfillment_center=center)
    for release in order.releases.filter(status="batched").order_by("pk"):
        package = package_create(release=release, carrier="UPS", tracking_number=f"1Z{release.pk}")
        with capture(execute=True):
            package_confirm_shipment(package=package)


# Non-ATP with commerce payments.


def test_non_atp_takes_on_hand_of_one_center_at_submit_and_ships_from_the_order(as_user, demo):
    client = as_user("alice")

    response = place(client, ("DEMO-TSHIRT", 2), ("DEMO-MUG", 3), store="demo-nonatp")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["store"]) == ("C", "demo-nonatp")
    assert [item["inventory_status"] for item in body["items"]] == ["ALLC", "ALLC"]
    assert (on_hand("DEMO-TSHIRT"), on_hand("DEMO-MUG")) == (48, 47)
    assert stock("DEMO-TSHIRT") == (100, 0)  # the ATP store's stock is untouched
    availability = client.get("/api/v1/products/DEMO-TSHIRT/availability/?store=demo-nonatp").json()
    assert availability["available_quantity"] == 48
    assert client.get("/api/v1/products/DEMO-TSHIRT/availability/").json()["available_quantity"] == 150

    # Not selected by the release job: it ships from the order itself.
    assert run("release_to_fulfillment").endswith("processed=0 succeeded=0 failed=0 skipped=0")
    packed = warehouse().post(
        f"/api/v1/backoffice/orders/{body['number']}/packages/", {"carrier": "UPS", "tracking_number": "1Z9"}
    )
    assert packed.status_code == 201, packed.json()
    (package,) = packed.json()["packages"]
    assert load(body["number"]).status == "R"
    confirmed = warehouse().post(f"/api/v1/backoffice/packages/{package['id']}/confirm-shipment/")
    assert confirmed.status_code == 200, confirmed.json()

    order = load(body["number"])
    assert order.status == "S"
    assert (on_hand("DEMO-TSHIRT"), on_hand("DEMO-MUG")) == (48, 47)  # taken once, at submit
    assert not Allocation.objects.filter(order_item__order=order).exists()
    assert run("balance_payment").endswith("processed=1 succeeded=1 failed=0 skipped=0")
    order.refresh_from_db()
    assert order.status == "D"
    assert payment_current(order=order).captured_amount == order.grand_total


def test_non_atp_cancel_puts_the_on_hand_back(as_user, demo):
    client = as_user("alice")
    number = place(client, ("DEMO-POSTER", 5), store="demo-nonatp").json()["number"]
    assert on_hand("DEMO-POSTER") == 45

    response = client.post(f"/api/v1/orders/{number}/cancel/")

    assert response.json()["status"] == "X"
    assert on_hand("DEMO-POSTER") == 50
    assert payment_current(order=load(number)).status == "voided"


def test_non_atp_refuses_what_no_single_center_holds_and_takes_nothing(as_user, demo):
    response = place(as_user("alice"), ("DEMO-TSHIRT", 2), ("DEMO-LAPTOP", 51), store="demo-nonatp")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_inventory"
    assert (on_hand("DEMO-TSHIRT"), on_hand("DEMO-LAPTOP")) == (50, 50)
    assert not Order.objects.filter(store__code="demo-nonatp").exists()


def test_an_external_fulfillment_system_reports_the_shipment(as_user, demo):
    client = as_user("alice")
    number = place(client, ("DEMO-CAP", 4), store="demo-nonatp").json()["number"]

    response = warehouse().post(
        f"/api/v1/backoffice/orders/{number}/shipments/", {"carrier": "DHL", "tracking_number": "JD01"}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "S"
    assert [(s["carrier"], s["tracking_number"]) for s in body["shipments"]] == [("DHL", "JD01")]
    assert on_hand("DEMO-CAP") == 46
    assert run("balance_payment").endswith("succeeded=1 failed=0 skipped=0")
    assert load(number).status == "D"


def test_the_order_shipping_endpoints_refuse_an_atp_order_and_need_the_permission(as_user, demo):
    number = place(as_user("alice"), ("DEMO-CAP", 1)).json()["number"]

    refused = warehouse().post(
        f"/api/v1/backoffice/orders/{number}/shipments/", {"carrier": "DHL", "tracking_number": "J"}, format="json"
    )
    forbidden = client_for(user("clerk")).post(
        f"/api/v1/backoffice/orders/{number}/shipments/", {"carrier": "DHL", "tracking_number": "J"}, format="json"
    )
    missing = warehouse().post(f"/api/v1/backoffice/orders/{number}/shipments/", {}, format="json")

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "invalid_transition")
    assert forbidden.status_code == 403
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "validation_error")
    assert load(number).status == "C"


def test_an_unknown_store_is_a_clear_400(as_user, demo):
    client = as_user("alice")

    placed = place(client, ("DEMO-CAP", 1), store="nowhere")
    availability = client.get("/api/v1/products/DEMO-CAP/availability/?store=nowhere")

    assert (placed.status_code, placed.json()["error"]["code"]) == (400, "validation_error")
    assert "store" in placed.json()["error"]["details"]
    assert (availability.status_code, availability.json()["error"]["code"]) == (400, "validation_error")


# ATP with payment rules.


def test_early_approval_approves_at_submit_and_deposits_each_shipped_release(
    as_user, demo, django_capture_on_commit_callbacks
):
    # 120 T-shirts: 100 from EAST and 20 from WEST, two releases, two deposits.
    number = place(as_user("alice"), ("DEMO-TSHIRT", 120), store="demo-rules").json()["number"]
    order = load(number)
    assert order.status == "C"
    assert payment_current(order=order).status == "authorized"

    assert "succeeded=1" in run("release_to_fulfillment")
    order.refresh_from_db()
    assert order.status == "R"
    east, west = order.releases.order_by("pk")
    pick_batch_create(fulfillment_center=east.fulfillment_center)
    package = package_create(release=east, carrier="UPS", tracking_number="1ZEAST")
    with django_capture_on_commit_callbacks(execute=True):
        package_confirm_shipment(package=package)

    payment = payment_current(order=order)
    item = order.items.get()
    first_deposit = (item.purchase_amount * 100 / 120).quantize(Decimal("0.01"))
    assert (payment.status, payment.captured_amount) == ("deposited", first_deposit)
    assert load(number).status == "R"
    assert run("order_close").endswith("processed=0 succeeded=0 failed=0 skipped=0")  # not shipped yet

    pick_batch_create(fulfillment_center=west.fulfillment_center)
    package = package_create(release=west, carrier="UPS", tracking_number="1ZWEST")
    with django_capture_on_commit_callbacks(execute=True):
        package_confirm_shipment(package=package)

    assert payment_current(order=order).captured_amount == order.grand_total
    assert run("balance_payment").endswith("processed=0 succeeded=0 failed=0 skipped=0")  # not its store
    assert run("order_close").endswith("processed=1 succeeded=1 failed=0 skipped=0")
    assert load(number).status == "D"


def test_approve_on_reservation_waits_in_i_and_approves_at_release(as_user, demo, django_capture_on_commit_callbacks):
    number = place(as_user("alice"), ("DEMO-HOODIE", 2), method="bill_me", token="", store="demo-rules").json()[
        "number"
    ]
    order = load(number)
    assert order.status == "I"
    assert set(order.items.values_list("status", "inventory_status")) == {("I", "ALLC")}
    assert payment_current(order=order).status == "new"
    assert stock("DEMO-HOODIE") == (40, 2)

    assert "succeeded=1" in run("release_to_fulfillment")

    order.refresh_from_db()
    assert order.status == "R"
    assert payment_current(order=order).status == "authorized"
    ship_everything(order, django_capture_on_commit_callbacks)
    assert payment_current(order=order).captured_amount == order.grand_total
    assert "succeeded=1" in run("order_close")
    assert load(number).status == "D"
    assert list(order.events.exclude(to_status="").values_list("from_status", "to_status")) == [
        ("P", "I"),
        ("I", "R"),
        ("R", "S"),
        ("S", "D"),
    ]


def test_deposit_only_takes_the_money_at_shipment_alone(as_user, demo, django_capture_on_commit_callbacks):
    number = place(as_user("alice"), ("DEMO-CAP", 3), method="cod", token="", store="demo-rules").json()["number"]
    order = load(number)
    assert order.status == "I"

    assert "succeeded=1" in run("release_to_fulfillment")
    assert payment_current(order=order).status == "new"  # nothing at reserve
    order.refresh_from_db()
    ship_everything(order, django_capture_on_commit_callbacks)

    payment = payment_current(order=order)
    assert (payment.status, payment.captured_amount) == ("deposited", order.grand_total)
    assert "succeeded=1" in run("order_close")
    assert load(number).status == "D"


def test_a_failed_deposit_is_taken_by_process_depositable_amount(as_user, demo):
    number = place(as_user("alice"), ("DEMO-CAP", 1), method="cod", token="", store="demo-rules").json()["number"]
    run("release_to_fulfillment")
    order = load(number)
    # Shipped without the commit callbacks running: as if the deposit after the shipment had failed.
    pick_batch_create(fulfillment_center=order.releases.get().fulfillment_center)
    package_confirm_shipment(package=package_create(release=order.releases.get(), carrier="UPS", tracking_number="1"))
    assert payment_current(order=order).captured_amount == 0
    assert run("order_close").endswith("processed=1 succeeded=0 failed=0 skipped=1")

    assert run("process_depositable_amount").endswith("processed=1 succeeded=1 failed=0 skipped=0")
    assert run("process_depositable_amount").endswith("processed=0 succeeded=0 failed=0 skipped=0")
    assert payment_current(order=order).captured_amount == order.grand_total
    assert "succeeded=1" in run("order_close")
    assert load(number).status == "D"


def test_an_i_order_cancels_with_its_stock_back_and_nothing_to_void(as_user, demo):
    client = as_user("alice")
    number = place(client, ("DEMO-HOODIE", 2), method="bill_me", token="", store="demo-rules").json()["number"]

    response = client.post(f"/api/v1/orders/{number}/cancel/")

    assert response.json()["status"] == "X"
    assert stock("DEMO-HOODIE") == (40, 0)
    assert payment_current(order=load(number)).status == "voided"


def test_a_decline_at_reservation_cancels_the_i_order(as_user, demo):
    from commerce.models import Organization

    Organization.objects.filter(code="acme").update(credit_hold=True)
    number = place(as_user("bob"), ("DEMO-CAP", 1), method="bill_me", token="", store="demo-rules").json()["number"]
    assert load(number).status == "I"

    assert "succeeded=1" in run("release_to_fulfillment")

    assert load(number).status == "X"
    assert stock("DEMO-CAP") == (60, 0)


def test_the_api_filters_orders_in_status_i(as_user, demo):
    client = as_user("alice")
    waiting = place(client, ("DEMO-CAP", 1), method="cod", token="", store="demo-rules").json()["number"]
    place(client, ("DEMO-CAP", 1))

    response = client.get("/api/v1/orders/?status=I")

    assert [order["number"] for order in response.json()["results"]] == [waiting]
    assert response.json()["results"][0]["status_display"] == "Submitted"


# No inventory with payment rules.


def test_a_digital_order_is_fulfilled_once_authorized_and_deposited(as_user, demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = place(as_user("alice"), ("DEMO-POSTER", 500), store="demo-digital")

    assert response.status_code == 201, response.json()
    order = load(response.json()["number"])
    assert order.status == "S"
    assert set(order.items.values_list("status", "inventory_status", "quantity_shipped")) == {("S", "FUL", 500)}
    assert stock("DEMO-POSTER") == (10, 0)  # no inventory touched
    assert not order.releases.exists()
    assert payment_current(order=order).captured_amount == order.grand_total
    assert run("release_to_fulfillment").endswith("processed=0 succeeded=0 failed=0 skipped=0")
    assert "succeeded=1" in run("order_close")
    assert load(order.number).status == "D"
    assert (
        as_user("alice")
        .get("/api/v1/products/DEMO-POSTER/availability/?store=demo-digital")
        .json()["available_quantity"]
        is None
    )


# Commands: the same engine and summary line.


def test_the_payment_rules_jobs_run_as_commands_with_the_summary_line(demo, capsys):
    for name in ("order_payment_synchronize", "process_depositable_amount", "order_close"):
        call_command(name)
        assert capsys.readouterr().out.strip().endswith("processed=0 succeeded=0 failed=0 skipped=0")


def test_order_packages_refuse_an_order_with_nothing_left_to_pack(as_user, demo):
    number = place(as_user("alice"), ("DEMO-CAP", 1), store="demo-nonatp").json()["number"]
    first = warehouse().post(
        f"/api/v1/backoffice/orders/{number}/packages/", {"carrier": "UPS", "tracking_number": "1"}, format="json"
    )
    package_confirm_shipment(package=Package.objects.get(pk=first.json()["packages"][0]["id"]))

    again = warehouse().post(
        f"/api/v1/backoffice/orders/{number}/packages/", {"carrier": "UPS", "tracking_number": "2"}, format="json"
    )

    assert again.status_code == 409
    assert load(number).status == "S"


def test_non_atp_with_payment_rules_approves_at_shipment_and_deposits_it(
    as_user, demo, django_capture_on_commit_callbacks
):
    from commerce.models import Store

    Store.objects.filter(code="demo-nonatp").update(
        payment_system="payment_rules", payment_rules={"bill_me": "approve_on_reservation"}
    )
    number = place(as_user("alice"), ("DEMO-MUG", 4), method="bill_me", token="", store="demo-nonatp").json()["number"]
    assert load(number).status == "I"
    assert on_hand("DEMO-MUG") == 46

    with django_capture_on_commit_callbacks(execute=True):
        response = warehouse().post(
            f"/api/v1/backoffice/orders/{number}/shipments/", {"carrier": "DHL", "tracking_number": "J9"}, format="json"
        )

    assert response.json()["status"] == "S"
    order = load(number)
    payment = payment_current(order=order)
    assert (payment.status, payment.captured_amount) == ("deposited", order.grand_total)
    assert "succeeded=1" in run("order_close")
    assert load(number).status == "D"


def test_a_return_of_a_non_atp_order_carries_its_store(as_user, demo):
    client = as_user("alice")
    number = place(client, ("DEMO-CAP", 2), store="demo-nonatp").json()["number"]
    warehouse().post(
        f"/api/v1/backoffice/orders/{number}/shipments/", {"carrier": "DHL", "tracking_number": "J1"}, format="json"
    )

    response = client.post(
        f"/api/v1/orders/{number}/returns/",
        {"items": [{"sku": "DEMO-CAP", "quantity": 1, "reason": "not_needed"}]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["order"], response.json()["store"]) == (number, "demo-nonatp")
