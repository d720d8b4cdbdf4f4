"""The gateway protocol's promise: an answer for every call, never an exception, never inside a transaction."""

from decimal import Decimal

import pytest
from django.db import transaction

from payments.errors import GatewayCallInTransaction
from payments.gateways.base import Gateway, GatewayResult, Outcome, in_transaction


class FlakyAdapter(Gateway):
    """An adapter whose remote side fails in the ways real ones do."""

    name = "flaky"

    def __init__(self, failure: Exception | None = None):
        self.failure = failure

    def _authorize(self, *, token, amount, currency, idempotency_key):
        if self.failure:
            raise self.failure
        return GatewayResult(Outcome.SUCCESS, reference="R-1", amount=amount)


def authorize(gateway: Gateway) -> GatewayResult:
    return gateway.authorize(token="t", amount=Decimal("1.00"), currency="USD", idempotency_key="k")


def test_an_answer_passes_through():
    assert authorize(FlakyAdapter()).reference == "R-1"


def test_a_timeout_becomes_a_timeout_result():
    result = authorize(FlakyAdapter(TimeoutError("read timed out")))

    assert (result.outcome, result.error) == (Outcome.TIMEOUT, "read timed out")


def test_any_other_adapter_failure_becomes_an_error_result():
    result = authorize(FlakyAdapter(ConnectionResetError("peer reset")))

    assert result.outcome == Outcome.ERROR
    assert "peer reset" in result.error


def test_an_operation_the_adapter_lacks_is_an_error_result():
    assert FlakyAdapter().void(reference="R-1", idempotency_key="k").outcome == Outcome.ERROR


@pytest.mark.django_db
def test_calls_inside_a_transaction_are_refused():
    assert not in_transaction()

    with transaction.atomic():
        assert in_transaction()
        with pytest.raises(GatewayCallInTransaction):
            authorize(FlakyAdapter())
