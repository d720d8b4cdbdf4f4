"""The shared admin base, the commerce admin, and what each role may do in the admin."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.management import call_command
from django.test import Client

import fulfillment.admin
import payments.admin
import spending_limits.admin
from commerce import admin as commerce_admin
from commerce.admin_base import (
    ReadOnlyAdmin,
    ReadOnlyAdminMixin,
    admin_link,
    message_outcomes,
    money,
    run_per_object,
)
from commerce.errors import InvalidTransition
from commerce.models import JobItemFailure, JobRun
from commerce.roles import ORDER_CLERK, PAYMENT_APPROVER, SUPERVISOR, WAREHOUSE
from fulfillment.batches import pick_batch_create
from fulfillment.models import Package, Stock
from fulfillment.shipping import package_create
from orders.models import Order
from tests.factories.commerce import CurrencyFactory, ProductFactory, StaffUserFactory
from tests.factories.fulfillment import ExpectedReceiptLineFactory, FulfillmentCenterFactory, released_order
from tests.factories.orders import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client():
    return logged_in(StaffUserFactory(username="root", is_superuser=True))


# The shared base.


@pytest.mark.parametrize(
    "admin_class",
    [
        commerce_admin.JobRunAdmin,
        commerce_admin.JobItemFailureAdmin,
        payments.admin.PaymentAdmin,
        payments.admin.SimulatedAuthorizationAdmin,
        payments.admin.PaymentTransactionInline,
        spending_limits.admin.LedgerAdmin,
        spending_limits.admin.LedgerInline,
        fulfillment.admin.AllocationAdmin,
        fulfillment.admin.ReleaseAdmin,
        fulfillment.admin.PackageAdmin,
        fulfillment.admin.PrintRecordAdmin,
    ],
)
def test_every_app_uses_the_one_read_only_base(admin_class):
    assert issubclass(admin_class, ReadOnlyAdminMixin)


def test_no_app_keeps_its_own_copy():
    assert fulfillment.admin.ReadOnlyAdmin is ReadOnlyAdmin
    assert not hasattr(payments.admin, "ReadOnlyAdminMixin")
    assert not hasattr(spending_limits.admin, "ReadOnlyMixin")


def test_read_only_rows_are_not_added_changed_or_deleted_even_by_a_superuser(superuser_client):
    run = JobRun.objects.create(name="sync_pending_payments")

    assert superuser_client.get("/admin/commerce/jobrun/add/").status_code == 403
    page = superuser_client.get(f"/admin/commerce/jobrun/{run.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert superuser_client.post(f"/admin/commerce/jobrun/{run.pk}/change/", {"name": "x"}).status_code == 403
    assert superuser_client.post(f"/admin/commerce/jobrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert JobRun.objects.get(pk=run.pk).name == "sync_pending_payments"


def test_a_failing_job_item_may_be_dismissed_by_whoever_may_delete_it(superuser_client, staff_in_role):
    failure = JobItemFailure.objects.create(job_name="release_to_fulfillment", item=OrderFactory(), failures=3)
    supervisor = logged_in(staff_in_role(SUPERVISOR))

    refused = supervisor.post(f"/admin/commerce/jobitemfailure/{failure.pk}/delete/", {"post": "yes"})
    dismissed = superuser_client.post(f"/admin/commerce/jobitemfailure/{failure.pk}/delete/", {"post": "yes"})

    assert refused.status_code == 403
    assert dismissed.status_code == 302
    assert not JobItemFailure.objects.exists()


def test_run_per_object_calls_each_on_its_own_and_collects_the_failures(rf):
    def ship(number: str) -> None:
        if number.startswith("X"):
            raise InvalidTransition(f"{number} is cancelled.")

    outcomes = run_per_object(["A1", "X2", "A3", "X4"], ship)
    request = rf.post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    message_outcomes(admin.site._registry[Order], request, outcomes, verb="Shipped", noun="order(s)")

    assert (outcomes.done, outcomes.failed) == (["A1", "A3"], ["X2: X2 is cancelled.", "X4: X4 is cancelled."])
    assert [str(m) for m in get_messages(request)] == [
        "Shipped 2 order(s): A1, A3.",
        "2 order(s) failed: X2: X2 is cancelled.; X4: X4 is cancelled.",
    ]


def test_admin_link_and_money():
    order = OrderFactory()
    item = OrderItemFactory(order=order)

    assert admin_link(order) == f'<a href="/admin/orders/order/{order.pk}/change/">{order.number}</a>'
    assert admin_link(item, "<b>") == "&lt;b&gt;"
    assert admin_link(None) == "-"
    assert money(Decimal("12.5"), CurrencyFactory(code="USD")) == "12.50 USD"
    assert money(Decimal("1234.5"), CurrencyFactory(code="JPY")) == "1235 JPY"


# Job runs, schedules and ledgers are there and usable (the supervisor's view).


def test_the_supervisor_reaches_job_runs_schedules_and_ledgers(staff_in_role):
    call_command("setup_schedules", stdout=StringIO())
    JobRun.objects.create(name="balance_payment")
    supervisor = logged_in(staff_in_role(SUPERVISOR))

    for url in [
        "/admin/commerce/jobrun/",
        "/admin/commerce/jobitemfailure/",
        "/admin/django_q/schedule/",
        "/admin/spending_limits/tradingagreement/",
        "/admin/spending_limits/tradingagreementpurchase/",
        "/admin/spending_limits/purchaseorder/",
    ]:
        assert supervisor.get(url).status_code == 200, url
    assert "balance_payment" in supervisor.get("/admin/django_q/schedule/").content.decode()
    assert supervisor.get("/admin/spending_limits/tradingagreementpurchase/add/").status_code == 403


def test_the_index_works_for_staff_without_any_permission():
    nobody = logged_in(StaffUserFactory())

    response = nobody.get("/admin/")

    assert response.status_code == 200
    assert 'id="dashboard"' not in response.content.decode()


# Roles: each group does its own work and nothing else (DESIGN section 12).


@pytest.mark.parametrize(
    ("role", "permission", "granted"),
    [
        (WAREHOUSE, "orders.review_payment", False),
        (WAREHOUSE, "orders.approve_order", False),
        (WAREHOUSE, "orders.cancel_order", False),
        (WAREHOUSE, "fulfillment.add_pickbatch", True),
        (WAREHOUSE, "fulfillment.print_pickbatch", True),
        (WAREHOUSE, "fulfillment.add_package", True),
        (WAREHOUSE, "fulfillment.ship_package", True),
        (WAREHOUSE, "fulfillment.receive_inventory", True),
        (PAYMENT_APPROVER, "orders.review_payment", True),
        (PAYMENT_APPROVER, "fulfillment.ship_package", False),
        (PAYMENT_APPROVER, "fulfillment.add_package", False),
        (PAYMENT_APPROVER, "fulfillment.add_pickbatch", False),
        (PAYMENT_APPROVER, "orders.cancel_order", False),
        (ORDER_CLERK, "orders.approve_order", True),
        (ORDER_CLERK, "orders.release_order", True),
        (ORDER_CLERK, "orders.cancel_order", True),
        (ORDER_CLERK, "orders.review_payment", False),
        (ORDER_CLERK, "fulfillment.ship_package", False),
        (SUPERVISOR, "orders.view_exceptions", True),
        (SUPERVISOR, "fulfillment.check_inventory", True),
        (SUPERVISOR, "commerce.view_jobrun", True),
        (SUPERVISOR, "django_q.view_schedule", True),
    ],
)
def test_role_table(staff_in_role, role, permission, granted):
    assert staff_in_role(role).has_perm(permission) is granted


def test_a_payment_approver_cannot_ship_or_pack_in_the_admin(staff_in_role, batch):
    package = package_create(release=batch.releases.get(), carrier="UPS", tracking_number="1Z")
    approver = logged_in(staff_in_role(PAYMENT_APPROVER))

    assert approver.post(f"/admin/fulfillment/pickbatch/{batch.pk}/confirm-shipment/").status_code == 403
    assert approver.post(f"/admin/fulfillment/package/{package.pk}/confirm-shipment/").status_code == 403
    assert (
        approver.post(
            f"/admin/fulfillment/pickbatch/{batch.pk}/releases/{package.release_id}/pack/",
            {"carrier": "UPS", "tracking_number": "2"},
        ).status_code
        == 403
    )
    assert Package.objects.get().status == "packed"


# The warehouse pages added to the fulfillment admin: receiving, the inventory check, packing from the batch.


@pytest.fixture
def east():
    return FulfillmentCenterFactory(code="EAST")


@pytest.fixture
def batch(east):
    released_order(lines=[(ProductFactory(sku="SKU-PACK"), {east: 2})])
    return pick_batch_create(fulfillment_center=east)


def test_receiving_goods_raises_stock_and_closes_the_expected_line(staff_in_role, east):
    line = ExpectedReceiptLineFactory(receipt__fulfillment_center=east, quantity_ordered=5)
    warehouse = logged_in(staff_in_role(WAREHOUSE))

    form = warehouse.get("/admin/fulfillment/stock/receive/")
    response = warehouse.post(
        "/admin/fulfillment/stock/receive/",
        {"fulfillment_center": east.pk, "product": line.product.pk, "quantity": 7},
        follow=True,
    )

    assert form.status_code == 200
    stock = Stock.objects.get(fulfillment_center=east, product=line.product)
    assert (stock.on_hand, stock.allocated) == (7, 0)
    line.refresh_from_db()
    assert line.quantity_received == 5
    assert f"Received 7 x {line.product.sku} at EAST: 7 on hand, 7 available." in response.content.decode()
    assert f"Closed expected lines: {line.receipt.number}/{line.product.sku}." in response.content.decode()


def test_receiving_needs_the_permission_and_a_positive_quantity(staff_in_role, east):
    product = ProductFactory()
    data = {"fulfillment_center": east.pk, "product": product.pk, "quantity": 3}

    refused = logged_in(staff_in_role(PAYMENT_APPROVER)).post("/admin/fulfillment/stock/receive/", data)
    invalid = logged_in(staff_in_role(WAREHOUSE)).post("/admin/fulfillment/stock/receive/", {**data, "quantity": 0})

    assert refused.status_code == 403
    assert invalid.status_code == 200 and "greater than or equal to 1" in invalid.content.decode()
    assert not Stock.objects.filter(product=product).exists()


def test_inventory_check_shows_drift_and_only_a_supervisor_repairs_it(staff_in_role, batch):
    stock = Stock.objects.get(product__sku="SKU-PACK")
    Stock.objects.filter(pk=stock.pk).update(allocated=5)
    warehouse = logged_in(staff_in_role(WAREHOUSE))
    supervisor = logged_in(staff_in_role(SUPERVISOR))

    page = warehouse.get("/admin/fulfillment/stock/check/").content.decode()
    assert "1 row drift." in page and 'id="repair-inventory"' not in page
    assert warehouse.post("/admin/fulfillment/stock/check/").status_code == 403
    assert 'id="repair-inventory"' in supervisor.get("/admin/fulfillment/stock/check/").content.decode()

    repaired = supervisor.post("/admin/fulfillment/stock/check/", follow=True).content.decode()

    assert "Repaired 1 drifting row(s)." in repaired and "Inventory is consistent" in repaired
    stock.refresh_from_db()
    assert stock.allocated == 2


def test_pack_and_confirm_from_the_batch_page(staff_in_role, batch):
    release = batch.releases.get()
    warehouse = logged_in(staff_in_role(WAREHOUSE))
    pack_url = f"/admin/fulfillment/pickbatch/{batch.pk}/releases/{release.pk}/pack/"

    page = warehouse.get(f"/admin/fulfillment/pickbatch/{batch.pk}/change/").content.decode()
    missing = warehouse.post(pack_url, {"carrier": "UPS", "weight_unit": "kg"}, follow=True).content.decode()
    packed = warehouse.post(pack_url, {"carrier": "UPS", "tracking_number": "1Z9", "weight_unit": "kg"}, follow=True)
    shipped = warehouse.post(f"/admin/fulfillment/pickbatch/{batch.pk}/confirm-shipment/", follow=True)

    assert f'action="{pack_url}"' in page and "Pack 2 units" in page
    assert "tracking_number: This field is required." in missing
    assert f"Packed package {Package.objects.get().pk} of {release.number}: UPS 1Z9." in packed.content.decode()
    assert f"Confirmed the shipment of 1 package(s): {release.number} (UPS 1Z9)." in shipped.content.decode()
    assert Package.objects.get().status == "shipped"
    assert Order.objects.get(pk=release.order_id).status == "S"


def test_the_warehouse_sees_the_items_of_releases_and_packages(staff_in_role, batch):
    release = batch.releases.get()
    package = package_create(release=release, carrier="UPS", tracking_number="1Z")
    warehouse = logged_in(staff_in_role(WAREHOUSE))

    for url in [f"/admin/fulfillment/release/{release.pk}/change/", f"/admin/fulfillment/package/{package.pk}/change/"]:
        assert "SKU-PACK" in warehouse.get(url).content.decode(), url


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        ("/admin/orders/order/", "approve_selected"),
        ("/admin/fulfillment/package/", "confirm_shipment"),
        ("/admin/commerce/product/", "delete_selected"),
    ],
)
@pytest.mark.parametrize("selection", [["abc"], ["\x00"], ["1", "1.5"]])
def test_a_bulk_action_on_a_selection_naming_no_row_is_refused_with_a_message(
    superuser_client, changelist, action, selection
):
    product = ProductFactory()

    response = superuser_client.post(changelist, {"action": action, "_selected_action": selection}, follow=True)

    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The selection names no valid row; nothing was done."
    ]
    assert type(product).objects.filter(pk=product.pk).exists()
