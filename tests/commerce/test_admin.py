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
from fulfillment.models import Package
from fulfillment.shipping import package_create
from orders.models import Order
from tests.factories.commerce import CurrencyFactory, ProductFactory, StaffUserFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, released_order
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
    failure = JobItemFailure.objects.create(job_name="release_to_fulfillment", order=OrderFactory(), failures=3)
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

    for url in ["/admin/commerce/jobrun/", "/admin/commerce/jobitemfailure/", "/admin/django_q/schedule/",
                "/admin/spending_limits/tradingagreement/", "/admin/spending_limits/tradingagreementpurchase/",
                "/admin/spending_limits/purchaseorder/"]:  # fmt: skip
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


def test_a_payment_approver_cannot_ship_or_pack_in_the_admin(staff_in_role):
    east = FulfillmentCenterFactory(code="EAST")
    released_order(lines=[(ProductFactory(), {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)
    package = package_create(release=batch.releases.get(), carrier="UPS", tracking_number="1Z")
    approver = logged_in(staff_in_role(PAYMENT_APPROVER))

    assert approver.post(f"/admin/fulfillment/pickbatch/{batch.pk}/confirm-shipment/").status_code == 403
    assert approver.post(f"/admin/fulfillment/package/{package.pk}/confirm-shipment/").status_code == 403
    assert approver.post(f"/admin/fulfillment/pickbatch/{batch.pk}/releases/{package.release_id}/pack/",
                         {"carrier": "UPS", "tracking_number": "2"}).status_code == 403  # fmt: skip
    assert Package.objects.get().status == "packed"
