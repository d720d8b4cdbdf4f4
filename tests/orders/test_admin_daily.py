"""The admin's daily-work pages: search, money per status, CSV export, the invoice PDF, the list's columns."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from commerce.money import quantize_money
from commerce.roles import ORDER_CLERK
from fulfillment.batches import pick_batch_create
from fulfillment.models import FulfillmentCenter
from fulfillment.shipping import package_create
from orders import services
from orders.daily import Period, order_totals_by_status
from orders.models import Order, OrderStatus
from tests.orders.conftest import place, user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"
SEARCH = "/admin/orders/order/search/"
TOTALS = "/admin/orders/order/totals/"
LETTER = (612, 792)
A4 = (595, 842)


def staff(username: str) -> Client:
    client = Client()
    client.force_login(user(username))
    return client


def usd(amount) -> str:
    return f"{quantize_money(amount, 'USD')} USD"


def placed(client, *items, token="tok_approve") -> Order:
    response = place(client, *items, token=token)
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


@pytest.fixture
def alice(as_user):
    return as_user("alice")


@pytest.fixture
def shipped_with_tracking(alice) -> Order:
    """An order released by the job and packed with a tracking number."""
    order = placed(alice, ("DEMO-TSHIRT", 1))
    services.order_release(order_id=order.pk)
    batch = pick_batch_create(fulfillment_center=FulfillmentCenter.objects.get(code="EAST"))
    package_create(release=batch.releases.get(), carrier="UPS", tracking_number="1Z999AA10123456784")
    return order


def found(response) -> list[str]:
    return [order.number for order in response.context["orders"]]


# Search.


def test_search_finds_an_order_by_number_email_name_sku_and_tracking_number(alice, shipped_with_tracking):
    other = placed(alice, ("DEMO-MUG", 1))
    supervisor = staff("supervisor")
    email = user("alice").email

    by_number = supervisor.get(SEARCH, {"q": other.number})
    by_email = supervisor.get(SEARCH, {"q": email.upper()})
    by_name = supervisor.get(SEARCH, {"q": "alice"})
    by_sku = supervisor.get(SEARCH, {"q": "demo-mug"})
    by_tracking = supervisor.get(SEARCH, {"q": "1Z999AA10123456784"})

    assert found(by_number) == [other.number]
    assert set(found(by_email)) >= {other.number, shipped_with_tracking.number}
    assert set(found(by_name)) >= {other.number, shipped_with_tracking.number}
    assert other.number in found(by_sku) and shipped_with_tracking.number not in found(by_sku)
    assert found(by_tracking) == [shipped_with_tracking.number]
    assert f'href="/admin/orders/order/{other.pk}/change/"' in by_number.content.decode()


def test_search_with_no_match_says_so(demo):
    response = staff("supervisor").get(SEARCH, {"q": "NO-SUCH-THING"})
    assert response.status_code == 200
    assert "No order matches" in response.content.decode()


def test_search_needs_the_view_order_permission(demo, staff_in_role, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client = Client()
    client.force_login(nobody)
    response = client.get(SEARCH, {"q": "x"})
    assert response.status_code == 403
    assert "You may not do this" in response.content.decode()


def test_the_dashboard_shows_the_search_box_and_the_money_per_status(alice):
    placed(alice, ("DEMO-TSHIRT", 2))
    page = staff("supervisor").get("/admin/").content.decode()
    assert 'id="order-search"' in page
    assert f'action="{SEARCH}"' in page
    assert 'id="dashboard-totals"' in page
    assert 'data-status="C" data-currency="USD"' in page


# Money per status.


def test_totals_per_status_count_and_sum_the_orders_placed_in_the_period(alice):
    authorized = [placed(alice, ("DEMO-TSHIRT", 1)), placed(alice, ("DEMO-TSHIRT", 2))]
    in_review = placed(alice, ("DEMO-TSHIRT", 1), token="tok_review")
    old = placed(alice, ("DEMO-TSHIRT", 3))
    Order.objects.filter(pk=old.pk).update(placed_at=timezone.now() - timedelta(days=40))

    totals = {(t.status, t.currency): t for t in order_totals_by_status(period=Period.last_days(30))}

    assert totals[(OrderStatus.AUTHORIZED, "USD")].orders == 2
    assert totals[(OrderStatus.AUTHORIZED, "USD")].grand_total == sum(o.grand_total for o in authorized)
    assert totals[(OrderStatus.PAYMENT_REVIEW, "USD")].grand_total == in_review.grand_total
    page = staff("supervisor").get(TOTALS).content.decode()
    expected = sum(o.grand_total for o in authorized).quantize(Decimal("0.01"))
    assert f"{expected} USD" in page


def test_totals_of_a_chosen_period_leave_other_days_out(alice):
    order = placed(alice, ("DEMO-TSHIRT", 1))
    day = timezone.localdate() - timedelta(days=3)
    response = staff("supervisor").get(TOTALS, {"start": day.isoformat(), "end": day.isoformat()})
    assert response.status_code == 200
    assert response.context["rows"] == []
    today = timezone.localdate().isoformat()
    rows = staff("supervisor").get(TOTALS, {"start": today, "end": today}).context["rows"]
    assert [(row["status"], row["orders"]) for row in rows] == [(order.status, 1)]
    assert f"placed_from={today}&placed_to={today}" in rows[0]["url"]


@pytest.mark.parametrize("query", [{"start": "2026-05-02", "end": "2026-05-01"}, {"start": "yesterday", "end": "x"}])
def test_a_bad_period_is_refused_on_the_form_not_a_server_error(demo, query):
    response = staff("supervisor").get(TOTALS, query)
    assert response.status_code == 200
    assert response.context["form"].errors


# The order list.


def test_the_list_shows_customer_name_and_email_payment_status_and_total(alice):
    order = placed(alice, ("DEMO-TSHIRT", 2))
    page = staff("clerk").get(CHANGELIST).content.decode()
    alice_user = user("alice")
    assert alice_user.get_full_name() in page
    assert alice_user.email in page
    assert "Authorized" in page  # the payment's status
    assert usd(order.grand_total) in page


def test_the_placed_between_filter_keeps_the_days_asked_for(alice):
    recent = placed(alice, ("DEMO-TSHIRT", 1))
    old = placed(alice, ("DEMO-TSHIRT", 1))
    Order.objects.filter(pk=old.pk).update(placed_at=timezone.now() - timedelta(days=10))
    start = (timezone.localdate() - timedelta(days=11)).isoformat()
    end = (timezone.localdate() - timedelta(days=9)).isoformat()

    response = staff("clerk").get(CHANGELIST, {"placed_from": start, "placed_to": end})

    listed = [order.number for order in response.context["cl"].result_list]
    assert listed == [old.number]
    assert recent.number not in listed
    assert 'id="placed-between-filter"' in response.content.decode()


def test_csv_export_of_the_selected_orders(alice):
    first, second = placed(alice, ("DEMO-TSHIRT", 1)), placed(alice, ("DEMO-MUG", 2))
    placed(alice, ("DEMO-TSHIRT", 1))  # not selected

    response = staff("clerk").post(
        CHANGELIST, {"action": "export_csv_selected", "_selected_action": [first.pk, second.pk]}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["number"] for row in rows] == [first.number, second.number]
    assert rows[0]["grand_total"] == str(quantize_money(first.grand_total, "USD"))
    assert rows[0]["customer_email"] == user("alice").email
    assert rows[0]["payment_status"] == "authorized"
    assert rows[1]["currency"] == "USD"


# The invoice.


def pdf(response) -> tuple[str, tuple[int, int]]:
    reader = PdfReader(io.BytesIO(response.content))
    box = reader.pages[0].mediabox
    return "\n".join(page.extract_text() for page in reader.pages), (round(box.width), round(box.height))


def test_the_invoice_pdf_has_the_order_and_prints_on_the_us_stores_letter(alice):
    order = placed(alice, ("DEMO-TSHIRT", 2), ("DEMO-MUG", 1))
    page = staff("clerk").get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    assert f'href="{CHANGELIST}{order.pk}/invoice.pdf"' in page

    response = staff("clerk").get(f"{CHANGELIST}{order.pk}/invoice.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text, size = pdf(response)
    assert order.number in text
    assert "DEMO-TSHIRT" in text and "DEMO-MUG" in text
    assert usd(order.grand_total) in text
    assert size == LETTER


def test_the_invoice_follows_an_a4_store(alice):
    order = placed(alice, ("DEMO-TSHIRT", 1))
    order.store.paper_size = "A4"
    order.store.save(update_fields=["paper_size"])
    _, size = pdf(staff("clerk").get(f"{CHANGELIST}{order.pk}/invoice.pdf"))
    assert size == A4


def test_the_invoice_needs_the_view_order_permission(alice, staff_in_role, django_user_model):
    order = placed(alice, ("DEMO-TSHIRT", 1))
    client = Client()
    client.force_login(django_user_model.objects.create_user("no-role", password="pw", is_staff=True))
    assert client.get(f"{CHANGELIST}{order.pk}/invoice.pdf").status_code == 403
    clerk = Client()
    clerk.force_login(staff_in_role(ORDER_CLERK, "clerk2"))
    assert clerk.get(f"{CHANGELIST}{order.pk}/invoice.pdf").status_code == 200


# The history.


def test_a_job_in_the_history_is_shown_as_a_job_and_a_person_as_a_person(alice):
    order = placed(alice, ("DEMO-TSHIRT", 1))
    services.order_release(order_id=order.pk)
    page = staff("supervisor").get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    assert "⚙ job release_to_fulfillment" in page
    assert '<span class="staff-actor">release_to_fulfillment</span>' not in page


def test_search_finds_an_order_by_its_rma_number(demo):
    from tests.orders.returns.conftest import ask_return, login, place_and_ship

    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    response = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged"))
    assert response.status_code == 201, response.content
    rma = response.json()["number"]

    found_orders = found(staff("supervisor").get(SEARCH, {"q": rma.lower()}))

    assert found_orders == [order.number]
