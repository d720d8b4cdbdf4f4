"""The admin's daily-work features and the login lockout, in a real browser at 1400 px."""

import re
from pathlib import Path

import pytest

from orders.models import Order
from tests.conftest import client_for
from tests.e2e.conftest import CHROMIUM, DEMO_PASSWORD, screenshot
from tests.orders.conftest import place, user

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium is not installed at {CHROMIUM}"),
]


def placed(*items, token: str = "tok_approve") -> Order:
    response = place(client_for(user("alice")), *items, token=token)
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def test_search_list_filter_totals_export_and_invoice(login):
    orders = [placed(("DEMO-TSHIRT", 2)), placed(("DEMO-MUG", 1)), placed(("DEMO-TSHIRT", 1), token="tok_review")]
    email = user("alice").email
    page = login("supervisor")

    # The dashboard: a search box and the money per status.
    assert page.locator("#order-search").is_visible()
    assert page.locator("#dashboard-totals tr[data-status=C]").count() == 1
    screenshot(page, "20-dashboard-search-and-totals")

    # Search by e-mail, then open an order from the results.
    page.fill("#order-search-q", email)
    page.click("#order-search input[type=submit]")
    page.wait_for_url(re.compile(r"/search/\?q="))
    results = page.locator("#search-results").inner_text()
    assert all(order.number in results for order in orders)
    screenshot(page, "21-search-results")
    page.fill("#order-search-q", "DEMO-MUG")
    page.click("#order-search input[type=submit]")
    page.wait_for_url(re.compile(r"q=DEMO-MUG"))
    assert page.locator("#search-results tbody tr").count() == 1
    page.click(f"#search-results >> text={orders[1].number}")
    page.wait_for_url(re.compile(rf"/admin/orders/order/{orders[1].pk}/change/$"))

    # The order page's invoice button gives a PDF.
    invoice = page.locator("#print-invoice")
    assert invoice.is_visible()
    pdf = page.request.get(invoice.get_attribute("href"))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    screenshot(page, "22-order-page-with-invoice-button")

    # The order list fits 1400 px with the customer's name and e-mail, payment and total.
    page.goto("/admin/orders/order/")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the order list is {overflow} px wider than the window"
    table_overflow = page.evaluate(
        "(r => r.scrollWidth - r.clientWidth)(document.querySelector('#changelist .results'))"
    )
    assert table_overflow <= 0, f"the order table scrolls sideways by {table_overflow} px"
    listing = page.locator("#result_list").inner_text()
    assert email in listing
    assert "Authorized" in listing and "In review" in listing
    screenshot(page, "23-order-list-1400px")

    # The from-to filter.
    old = orders[0]
    Order.objects.filter(pk=old.pk).update(placed_at=old.placed_at.replace(year=old.placed_at.year - 1))
    day = old.placed_at.replace(year=old.placed_at.year - 1).date().isoformat()
    page.fill("#placed-from", day)
    page.fill("#placed-to", day)
    page.click("#placed-between-filter input[type=submit]")
    page.wait_for_url(re.compile(r"placed_from="))
    assert page.locator("#result_list tbody tr").count() == 1
    assert old.number in page.locator("#result_list").inner_text()
    screenshot(page, "24-order-list-placed-between")

    # CSV export of the selected orders.
    page.goto("/admin/orders/order/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "export_csv_selected")
    with page.expect_download() as download_info:
        page.click("button[name=index]")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("number,placed_at,status")
    assert all(order.number in text for order in orders)

    # Money per status for a chosen period.
    page.goto("/admin/orders/order/totals/")
    page.fill("#id_start", day)
    page.fill("#id_end", day)
    page.click("#totals-period input[type=submit]")
    page.wait_for_url(re.compile(r"start="))
    rows = page.locator("#status-totals tbody tr")
    assert rows.count() == 1
    assert "1" in rows.first.inner_text()
    screenshot(page, "25-money-per-status")


def test_a_refused_page_is_styled_and_leads_back(login):
    page = login("warehouse")
    page.goto("/admin/orders/order/exceptions/")
    assert page.locator("#forbidden h1").inner_text() == "You may not do this"
    screenshot(page, "26-forbidden-page")
    page.click("#forbidden-back")
    page.wait_for_url(re.compile(r"/admin/$"))


def test_the_staff_login_locks_out_after_repeated_wrong_passwords(browser, live_server, demo):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    try:
        for attempt in range(5):
            page.goto("/admin/login/?next=/admin/")
            page.fill("#id_username", "clerk")
            page.fill("#id_password", f"wrong-{attempt}")
            page.click("input[type=submit]")
        assert page.locator("#lockout-message").is_visible()
        assert "Try again in 15 minutes" in page.locator("#lockout-message").inner_text()
        screenshot(page, "27-login-locked-out")

        # The right password does not get in while the lockout lasts.
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", "clerk")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")
        assert page.locator("#lockout-message").is_visible()
        page.goto("/admin/")
        assert "/admin/login/" in page.url
    finally:
        context.close()
