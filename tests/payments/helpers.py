from payments.models import Payment, SimulatedAuthorization
from payments.selectors import payment_ledger


def at_gateway(payment: Payment) -> SimulatedAuthorization:
    """The simulated gateway's own record of the payment's authorization."""
    return SimulatedAuthorization.objects.get(reference=payment.authorization_reference)


def kinds_and_outcomes(payment: Payment) -> list[tuple[str, str]]:
    return list(payment.transactions.order_by("pk").values_list("kind", "outcome"))


def ledger_matches(payment: Payment) -> bool:
    payment.refresh_from_db()
    return payment_ledger(payment=payment).matches(payment)
