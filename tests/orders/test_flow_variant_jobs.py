"""Which orders each job selects, per flow variant (DESIGN section 18): other variants are not selected."""

import pytest

from orders import jobs
from orders.models import Order
from tests.factories.commerce import StoreFactory
from tests.factories.orders import OrderFactory

pytestmark = pytest.mark.django_db

STORES = {
    "atp_cp": ("atp", "commerce_payments"),
    "nonatp_cp": ("non_atp", "commerce_payments"),
    "atp_rules": ("atp", "payment_rules"),
    "none_rules": ("none", "payment_rules"),
}


@pytest.fixture
def orders_by_store():
    """One order per (store, status) for the statuses the jobs select."""
    made = {}
    for code, (inventory_system, payment_system) in STORES.items():
        store = StoreFactory(code=code, inventory_system=inventory_system, payment_system=payment_system)
        for status in ("M", "B", "C", "I", "S"):
            made[(code, status)] = OrderFactory(store=store, status=status, placed_at="2020-01-01T00:00:00Z").pk
    return made


def selected(select, made) -> set[tuple[str, str]]:
    ids = set(select())
    return {key for key, pk in made.items() if pk in ids}


def test_the_atp_jobs_select_atp_stores_only(orders_by_store):
    assert selected(jobs.select_backorders, orders_by_store) == {("atp_cp", "B"), ("atp_rules", "B")}


def test_release_to_fulfillment_leaves_non_atp_stores_out(orders_by_store):
    assert selected(jobs.select_ready_to_release, orders_by_store) == {
        ("atp_cp", "C"), ("atp_cp", "I"), ("atp_rules", "C"), ("atp_rules", "I"), ("none_rules", "C"),
        ("none_rules", "I"),
    }  # fmt: skip


def test_the_commerce_payments_jobs_leave_payment_rules_stores_out(orders_by_store):
    assert selected(jobs.select_shipped, orders_by_store) == {("atp_cp", "S"), ("nonatp_cp", "S")}
    assert selected(jobs.select_pending_payments, orders_by_store) == {("atp_cp", "M"), ("nonatp_cp", "M")}
    assert selected(jobs.select_stale_pending_payments, orders_by_store) == {("atp_cp", "M"), ("nonatp_cp", "M")}


def test_the_payment_rules_jobs_select_payment_rules_stores_only(orders_by_store):
    assert selected(jobs.select_payment_rules_pending, orders_by_store) == {("atp_rules", "M"), ("none_rules", "M")}
    assert selected(jobs.select_shipped_payment_rules, orders_by_store) == {("atp_rules", "S"), ("none_rules", "S")}


def test_a_store_of_another_variant_is_not_selected_rather_than_skipped(orders_by_store):
    summary = jobs.run_scheduled_job("balance_payment")

    # Two S orders of commerce-payments stores are selected (they fail: no payment); the rules ones are not.
    assert summary == "balance_payment: processed=2 succeeded=0 failed=2 skipped=0"
    assert Order.objects.filter(status="S").count() == 4
