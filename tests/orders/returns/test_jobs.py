"""The return_credit_and_close job: what it selects, dry run, its schedule's task, a second run."""

from io import StringIO

import pytest
from django.core.management import call_command

from commerce.models import JobRun
from orders.jobs import JOBS, run_scheduled_job
from orders.returns.jobs import select_returns_to_credit
from orders.returns.models import ReturnRequest
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = pytest.mark.django_db


def returned(sku: str, quantity: int, received: int) -> ReturnRequest:
    order = place_and_ship("alice", (sku, quantity))
    number = ask_return(login("alice"), order.number, (sku, quantity, "damaged")).json()["number"]
    if received:
        answer = login("warehouse").post(
            f"/api/v1/backoffice/returns/{number}/receive/",
            {"items": [{"sku": sku, "quantity": received, "disposition": "scrap"}]},
            format="json",
        )
        assert answer.status_code == 200, answer.content
    return ReturnRequest.objects.get(number=number)


def test_it_selects_only_orders_whose_approved_returns_all_came_back(demo):
    complete = returned("DEMO-TSHIRT", 2, received=2)
    partial = returned("DEMO-TSHIRT", 2, received=1)
    waiting = returned("DEMO-MUG", 1, received=0)
    pending = returned("DEMO-LAPTOP", 1, received=0)
    assert pending.status == "PND" and waiting.status == partial.status == "APP"
    assert list(select_returns_to_credit()) == [complete.order_id]

    out = StringIO()
    call_command("return_credit_and_close", "--dry-run", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "processed=1 succeeded=0 failed=0 skipped=1"
    assert ReturnRequest.objects.get(pk=complete.pk).status == "APP"

    assert run_scheduled_job("return_credit_and_close") == (
        "return_credit_and_close: processed=1 succeeded=1 failed=0 skipped=0"
    )
    assert ReturnRequest.objects.get(pk=complete.pk).status == "CLO"
    assert [ReturnRequest.objects.get(pk=r.pk).status for r in (partial, waiting, pending)] == ["APP", "APP", "PND"]
    assert JobRun.objects.filter(name="return_credit_and_close", dry_run=False).get().succeeded == 1

    out = StringIO()
    call_command("return_credit_and_close", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "processed=0 succeeded=0 failed=0 skipped=0"


def test_the_step_skips_an_order_whose_return_another_run_closed(demo):
    rma = returned("DEMO-TSHIRT", 1, received=1)
    step = JOBS["return_credit_and_close"].process
    assert step(rma.order_id) == "succeeded"
    assert step(rma.order_id) == "skipped"
