"""Transient conflicts: a real deadlock between two PostgreSQL connections reruns the losing unit of work;
when the attempts run out the API answers 503 temporarily_unavailable with Retry-After."""

import threading

import pytest
from django.db import OperationalError, connection

from commerce import retry
from commerce.models import Product
from commerce.retry import TemporarilyUnavailable, atomic_with_retry, is_transient
from tests.conftest import client_for
from tests.factories.commerce import CustomerFactory, ProductFactory
from tests.factories.orders import OrderFactory

POSTGRES = pytest.mark.postgres
TRANSACTIONAL = pytest.mark.django_db(transaction=True)


def opposite_lockers(first: Product, second: Product, *, attempts: int):
    """Two units of work locking the same two rows in opposite order, meeting in the middle on the first try.

    Returns the callables and the log of attempts they append to.
    """
    both_hold_one = threading.Barrier(2)
    log: list[tuple[str, int]] = []

    def unit(name: str, a: Product, b: Product):
        @atomic_with_retry(attempts=attempts)
        def work():
            tries = sum(1 for who, _ in log if who == name) + 1
            log.append((name, tries))
            Product.objects.select_for_update().get(pk=a.pk)
            if tries == 1:
                both_hold_one.wait(timeout=30)  # each holds its first row: the second lock closes the cycle
            Product.objects.filter(pk=b.pk).update(name=f"{b.name} by {name}")
            return name

        return work

    return [unit("left", first, second), unit("right", second, first)], log


def run_both(calls) -> list[object]:
    results: list[object] = [None, None]

    def run(index, call):
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@POSTGRES
@TRANSACTIONAL
def test_a_deadlocked_unit_of_work_runs_again_and_both_finish():
    first, second = ProductFactory(), ProductFactory()
    calls, log = opposite_lockers(first, second, attempts=3)

    results = run_both(calls)

    assert sorted(results) == ["left", "right"]
    # PostgreSQL failed exactly one of them with deadlock_detected; that one ran a second time.
    assert sorted(tries for _, tries in log) == [1, 1, 2]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.name.endswith("by right") and second.name.endswith("by left")


@POSTGRES
@TRANSACTIONAL
def test_when_the_attempts_run_out_the_unit_raises_temporarily_unavailable(monkeypatch):
    first, second = ProductFactory(), ProductFactory()
    calls, log = opposite_lockers(first, second, attempts=1)

    results = run_both(calls)

    failed = [result for result in results if isinstance(result, Exception)]
    assert len(failed) == 1 and isinstance(failed[0], TemporarilyUnavailable)
    assert failed[0].code == "temporarily_unavailable" and failed[0].status_code == 503
    cause = failed[0].__cause__
    assert isinstance(cause, OperationalError) and is_transient(cause)
    assert cause.__cause__.sqlstate == "40P01"
    assert len(log) == 2  # no second attempt

    # The API answers such a failure with 503, the error body and Retry-After.
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)

    def busy(**kwargs):
        raise failed[0]

    monkeypatch.setattr("orders.api.views.services.order_cancel", busy)
    response = client_for(customer.user).post(f"/api/v1/orders/{order.number}/cancel/", {}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == str(retry.RETRY_AFTER_SECONDS)
    assert response.json() == {
        "error": {
            "code": "temporarily_unavailable",
            "message": "The service is busy; please try again in a moment.",
            "details": {"retry_after_seconds": retry.RETRY_AFTER_SECONDS},
        }
    }


@POSTGRES
@TRANSACTIONAL
def test_a_deadlock_outside_a_retried_unit_is_answered_503_too(monkeypatch):
    """The handler's safety net: a raw transient error (here a real one, raised by PostgreSQL) is not a 500."""
    first, second = ProductFactory(), ProductFactory()
    calls, _ = opposite_lockers(first, second, attempts=1)
    deadlock = next(result for result in run_both(calls) if isinstance(result, Exception)).__cause__
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)

    def deadlocked(**kwargs):
        raise deadlock

    monkeypatch.setattr("orders.api.views.services.order_cancel", deadlocked)
    response = client_for(customer.user).post(f"/api/v1/orders/{order.number}/cancel/", {}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == str(retry.RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "temporarily_unavailable"


@TRANSACTIONAL
def test_only_transient_errors_are_retried():
    """On either database: a non-transient error is raised at once, not retried."""
    calls = []

    @atomic_with_retry(attempts=3)
    def broken():
        calls.append(1)
        raise OperationalError("relation does not exist")

    with pytest.raises(OperationalError):
        broken()
    assert calls == [1]
    assert is_transient(OperationalError("database is locked"))
    assert not is_transient(OperationalError("no such table: x"))
