"""The order admin: list, page, transition buttons and bulk actions over the services, queues, dashboard."""

import html
import re

import pytest
from django.test import Client

from fulfillment.models import Release
from orders.models import Order, OrderEvent
from tests.orders.conftest import place, user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


def staff(username: str) -> Client:
    client = Client()
    client.force_login(user(username))
    return client


def order_url(order: Order, suffix: str = "change/") -> str:
    return f"{CHANGELIST}{order.pk}/{suffix}"


def action_url(order: Order, action: str) -> str:
    return order_url(order, f"action/{action}/")


def placed(client, *items, token="tok_approve") -> Order:
    response = place(client, *items, token=token)
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def texts(response) -> list[str]:
    """The messages the page shows (follow redirects to the page that shows them)."""
    listed = re.search(r'<ul class="messagelist">(.*?)</ul>', response.content.decode(), re.S)
    return [html.unescape(text) for text in re.findall(r"<li[^>]*>(.*?)</li>", listed.group(1), re.S)] if listed else []


def buttons(response) -> set[str]:
    return set(re.findall(r'data-action="([a-z_]+)"', response.content.decode()))


@pytest.fixture
def alice(as_user):
    return as_user("alice")


@pytest.fixture
def in_review(alice) -> Order:
    return placed(alice, ("DEMO-TSHIRT", 2), token="tok_review")


@pytest.fixture
def authorized(alice) -> Order:
    return placed(alice, ("DEMO-MUG", 1), ("DEMO-POSTER", 1))


# The list.


def test_list_shows_counts_per_status_linking_to_the_filtered_list(in_review, authorized):
    response = staff("clerk").get(CHANGELIST)

    content = response.content.decode()
    assert response.status_code == 200
    assert in_review.number in content and authorized.number in content
    bar = content[content.index('id="status-bar"') : content.index("</ul>", content.index('id="status-bar"'))]
    in_review_count = r'/order/\?status__exact=A".*?A · Payment review</span>\s*<span class="count">1<'
    assert re.search(in_review_count, bar, re.S)
    assert re.search(r'status__exact=X".*?<span class="count">0<', bar, re.S)


def test_payment_review_queue_is_the_list_of_orders_in_review(in_review, authorized):
    queue = staff("payments").get("/admin/orders/order/payment-review/", follow=True)

    content = queue.content.decode()
    assert queue.redirect_chain[-1][0].endswith("?status__exact=A")
    assert "Payment review queue" in content
    assert in_review.number in content
    assert authorized.number not in content


@pytest.mark.parametrize("query", ["alice@example.com", "alice", "DEMO-MUG", "customer-number"])
def test_search_by_customer_and_sku(as_user, alice, in_review, authorized, query):
    dave_order = placed(as_user("dave"), ("DEMO-CAP", 1))
    if query == "customer-number":
        query = authorized.customer.number

    content = staff("clerk").get(CHANGELIST, {"q": query}).content.decode()

    assert authorized.number in content
    assert dave_order.number not in content
    assert (in_review.number in content) is (query != "DEMO-MUG")


def test_customer_column_links_to_that_customers_orders(as_user, authorized):
    dave_order = placed(as_user("dave"), ("DEMO-CAP", 1))

    content = staff("clerk").get(CHANGELIST, {"customer__id__exact": authorized.customer_id}).content.decode()

    assert authorized.number in content
    assert dave_order.number not in content


def test_status_buyer_and_organization_filters(as_user, in_review, authorized):
    b2b = placed(as_user("bob"), ("DEMO-CAP", 1))
    clerk = staff("clerk")

    business = clerk.get(CHANGELIST, {"buyer": "business"}).content.decode()
    by_org = clerk.get(CHANGELIST, {"organization__id__exact": b2b.organization_id}).content.decode()
    in_a = clerk.get(CHANGELIST, {"status__exact": "A"}).content.decode()

    assert b2b.number in business and authorized.number not in business
    assert b2b.number in by_org and in_review.number not in by_org
    assert in_review.number in in_a and authorized.number not in in_a


# The order page.


def test_order_page_shows_items_allocations_payment_history_and_totals(authorized):
    response = staff("supervisor").get(order_url(authorized))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="order-header"' in content
    for text in [
        "DEMO-MUG",
        "DEMO-POSTER",
        "1 at EAST (from stock)",
        "Payment ",
        "Authorize",
        "Approved",
        "Order created",
        "Grand total",
        f"{authorized.grand_total:.2f} USD",
        "12 Elm Street",
    ]:
        assert text in content, text


def test_order_page_shows_releases_and_spending_limit_charges(as_user):
    b2b = placed(as_user("bob"), ("DEMO-TSHIRT", 1, "ACME-TA-1"))
    staff("clerk").post(action_url(b2b, "release"))

    content = staff("supervisor").get(order_url(b2b)).content.decode()

    assert Release.objects.get(order=b2b).number in content
    assert "trading agreement charges" in content.lower()
    assert "ACME-TA-1" in content


def test_order_is_read_only_for_staff_without_change_permission(authorized):
    content = staff("warehouse").get(order_url(authorized)).content.decode()
    clerks = staff("clerk").get(order_url(authorized)).content.decode()

    assert 'name="_save"' not in content
    assert 'name="shipping_note"' not in content
    # Order clerks keep the notes.
    assert 'name="shipping_note"' in clerks


def test_only_the_notes_can_be_edited_and_the_status_stays(authorized, admin_client):
    page = admin_client.get(order_url(authorized)).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert 'name="shipping_note"' in page
    assert 'name="status"' not in page

    response = admin_client.post(
        order_url(authorized), {**hidden, "shipping_note": "Leave at the back door", "invoice_note": "", "status": "X"}
    )

    assert response.status_code == 302
    authorized.refresh_from_db()
    assert (authorized.shipping_note, authorized.status) == ("Leave at the back door", "C")


def test_orders_are_neither_added_nor_deleted_here(authorized, admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(order_url(authorized, "delete/"), {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=authorized.pk).exists()


# Buttons: only the allowed transitions the user may trigger; the server checks again.


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("payments", {"approve_payment", "decline_payment"}),
        ("clerk", {"cancel"}),
        ("supervisor", {"approve_payment", "decline_payment", "cancel"}),
        ("warehouse", set()),
    ],
)
def test_buttons_of_an_order_in_review_follow_the_role(in_review, username, expected):
    assert buttons(staff(username).get(order_url(in_review))) == expected


def test_buttons_of_an_authorized_order(authorized):
    assert buttons(staff("clerk").get(order_url(authorized))) == {"release", "cancel"}
    assert buttons(staff("payments").get(order_url(authorized))) == set()


def test_approve_payment_button_asks_for_an_optional_reason_then_calls_the_service(in_review):
    payments = staff("payments")

    form = payments.get(action_url(in_review, "approve_payment"))
    response = payments.post(action_url(in_review, "approve_payment"), {"reason": "Called the customer"}, follow=True)

    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    assert response.redirect_chain == [(order_url(in_review), 302)]
    assert status_of(in_review) == "C"
    event = OrderEvent.objects.filter(order=in_review, to_status="C").get()
    assert (event.actor.username, event.reason) == ("payments", "Called the customer")
    assert texts(response) == [f"Approved the payment of order {in_review.number}: it is now authorized."]


def test_decline_payment_needs_a_reason(in_review):
    payments = staff("payments")

    blank = payments.post(action_url(in_review, "decline_payment"), {"reason": ""})
    assert blank.status_code == 200
    assert "This field is required" in blank.content.decode()
    assert status_of(in_review) == "A"

    payments.post(action_url(in_review, "decline_payment"), {"reason": "Stolen card"})
    assert status_of(in_review) == "X"
    assert Order.objects.get(pk=in_review.pk).status_reason == "Stolen card"


def test_warehouse_gets_403_on_the_approve_payment_url(in_review):
    warehouse = staff("warehouse")

    assert warehouse.get(action_url(in_review, "approve_payment")).status_code == 403
    assert warehouse.post(action_url(in_review, "approve_payment"), {"reason": "x"}).status_code == 403
    assert status_of(in_review) == "A"


def test_payment_approver_gets_403_on_cancel_and_release(authorized):
    payments = staff("payments")

    assert payments.post(action_url(authorized, "cancel"), {"reason": "x"}).status_code == 403
    assert payments.post(action_url(authorized, "release")).status_code == 403
    assert status_of(authorized) == "C"


def test_release_now_releases_to_fulfillment(authorized):
    response = staff("clerk").post(action_url(authorized, "release"), follow=True)

    assert status_of(authorized) == "R"
    assert Release.objects.filter(order=authorized).count() == 1
    assert texts(response) == [f"Released order {authorized.number}: it is now released."]
    event = OrderEvent.objects.filter(order=authorized, to_status="R").get()
    assert (event.actor.username, event.actor_name) == ("clerk", "clerk")
    assert OrderEvent.objects.filter(order=authorized, kind="fulfillment").get().actor.username == "clerk"


def test_an_action_not_possible_in_the_status_is_refused_with_a_message(authorized):
    clerk = staff("clerk")
    clerk.post(action_url(authorized, "release"), follow=True)

    page = clerk.get(action_url(authorized, "cancel"), follow=True)
    forced = clerk.post(action_url(authorized, "cancel"), {"reason": "Too late"}, follow=True)

    assert page.redirect_chain == [(order_url(authorized), 302)]
    assert texts(page) == [f"Order {authorized.number} is released: “Cancel order” is not possible now."]
    assert texts(forced) == [f"Order {authorized.number} cannot be cancelled: it is released."]
    assert status_of(authorized) == "R"


def test_cancel_with_a_reason(authorized):
    staff("clerk").post(action_url(authorized, "cancel"), {"reason": "Customer called"})

    order = Order.objects.get(pk=authorized.pk)
    assert (order.status, order.status_reason) == ("X", "Customer called")


def test_unknown_action_is_404(authorized):
    assert staff("clerk").get(action_url(authorized, "teleport")).status_code == 404


# Bulk actions.


def bulk(client, action: str, orders, **extra):
    data = {"action": action, "_selected_action": [order.pk for order in orders], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_bulk_approve_payments_reports_each_success_and_failure(alice, in_review, authorized):
    second = placed(alice, ("DEMO-CAP", 1), token="tok_review")
    payments = staff("payments")

    confirm = bulk(payments, "approve_payment_selected", [in_review, second, authorized])
    response = bulk(payments, "approve_payment_selected", [in_review, second, authorized], apply="1", reason="")

    assert confirm.status_code == 200 and in_review.number in confirm.content.decode()
    assert [status_of(o) for o in (in_review, second, authorized)] == ["C", "C", "C"]
    done, failed = texts(response)
    assert done.startswith("Approved the payment of 2 order(s):")
    assert in_review.number in done and second.number in done
    why = f"Order {authorized.number} cannot approve its payment while authorized."
    assert failed == f"1 order(s) failed: {authorized.number}: {why}"


def test_bulk_decline_asks_for_the_reason_first(in_review):
    payments = staff("payments")

    without = bulk(payments, "decline_payment_selected", [in_review], apply="1", reason="")
    assert without.status_code == 200 and "This field is required" in without.content.decode()
    assert status_of(in_review) == "A"

    bulk(payments, "decline_payment_selected", [in_review], apply="1", reason="Fraud")
    assert status_of(in_review) == "X"


def test_bulk_release_and_cancel(alice, authorized):
    other = placed(alice, ("DEMO-CAP", 2))
    clerk = staff("clerk")

    released = bulk(clerk, "release_selected", [authorized])
    assert texts(released) == [f"Released 1 order(s): {authorized.number}."]
    response = bulk(clerk, "cancel_selected", [authorized, other], apply="1", reason="Duplicate")

    assert (status_of(authorized), status_of(other)) == ("R", "X")
    assert texts(response) == [
        f"Cancelled 1 order(s): {other.number}.",
        f"1 order(s) failed: {authorized.number}: Order {authorized.number} cannot be cancelled: it is released.",
    ]


def test_bulk_actions_are_offered_by_permission(in_review):
    warehouse = staff("warehouse")

    choices = re.findall(r'<option value="([a-z_]+)"', warehouse.get(CHANGELIST).content.decode())
    response = bulk(warehouse, "approve_payment_selected", [in_review], apply="1")

    assert not {"approve_payment_selected", "cancel_selected", "release_selected"} & set(choices)
    assert response.status_code == 200
    assert status_of(in_review) == "A"


# Queues and the dashboard.


def test_exceptions_queue_needs_the_permission(in_review):
    assert staff("clerk").get("/admin/orders/order/exceptions/").status_code == 403
    response = staff("supervisor").get("/admin/orders/order/exceptions/")
    assert response.status_code == 200
    for title in [
        "Authorized, not released",
        "Backordered too long",
        "In payment review too long",
        "Payment pending too long",
        "Failing repeatedly in jobs",
    ]:
        assert title in response.content.decode()


def test_exceptions_queue_lists_a_stale_order_with_a_link(in_review, settings):
    settings.EXCEPTION_THRESHOLDS = {"payment_review_hours": 0}

    content = staff("supervisor").get("/admin/orders/order/exceptions/").content.decode()

    section = content[content.index('id="payment_review"') : content.index('id="payment_pending"')]
    assert f'href="/admin/orders/order/{in_review.pk}/change/">{in_review.number}</a>' in section


def test_dashboard_shows_counts_per_status_and_exceptions_to_the_supervisor(in_review, settings):
    settings.EXCEPTION_THRESHOLDS = {"payment_review_hours": 0}

    content = staff("supervisor").get("/admin/").content.decode()

    assert 'id="dashboard-statuses"' in content
    assert re.search(r'status__exact=A">.*?A · Payment review</span></a>\s*<strong class="">1</strong>', content, re.S)
    exceptions = content[content.index('id="dashboard-exceptions"') :]
    assert re.search(r'href="/admin/orders/order/exceptions/">1</a>', exceptions)
    for link in ["Job runs", "Job schedules", "Trading agreements (remaining)", "Check inventory"]:
        assert link in content


def test_dashboard_shows_each_role_its_own_links(demo):
    warehouse = staff("warehouse").get("/admin/").content.decode()
    payments = staff("payments").get("/admin/").content.decode()

    assert "Create a pick batch" in warehouse and "Receive goods" in warehouse
    assert 'id="dashboard-exceptions"' not in warehouse
    assert "Payment review queue" in payments and "Create a pick batch" not in payments
