"""Payment methods: one class per method, registered by name in ``settings.PAYMENT_METHODS``.

A method says whether it goes through a gateway, whether it needs a token, whether its payments
need a person's approval by default, and how it authorizes, captures, voids and refunds. Methods
without a gateway answer those calls themselves, in the gateway protocol's terms, so the services
treat every method alike. Add a method by subclassing ``PaymentMethod`` (or ``GatewayMethod``) and
naming the class in the setting.
"""

import logging
import re
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string

from commerce.money import quantize_money
from payments.gateways import get_gateway
from payments.gateways.base import Gateway, GatewayResult, Outcome

logger = logging.getLogger(__name__)

# Digits with optional spaces or dashes, as long as a card number: never stored, never sent.
CARD_NUMBER = re.compile(r"^[\d\s-]{12,}$")


class PaymentMethod:
    """A method without a gateway: every operation succeeds at once (cash on delivery, invoices)."""

    label = ""
    uses_gateway = False
    requires_token = False
    needs_approval = False

    def gateway_name(self) -> str:
        return ""

    def validate(self, *, order, token: str) -> dict[str, list[str]]:
        """Return the problems of paying ``order`` this way, per field of the payment input."""
        return {}

    def authorize(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self._offline(payment, amount=payment.amount)

    def status(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self._offline(payment, amount=payment.amount)

    def capture(self, *, payment, amount: Decimal, idempotency_key: str) -> GatewayResult:
        return self._offline(payment, amount=amount)

    def void(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self._offline(payment)

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> GatewayResult:
        return self._offline(payment, amount=amount)

    @staticmethod
    def _offline(payment, *, amount: Decimal | None = None, outcome=Outcome.SUCCESS, error: str = "") -> GatewayResult:
        return GatewayResult(
            outcome,
            reference=f"offline-{payment.key}",
            amount=amount if outcome == Outcome.SUCCESS else None,
            error=error,
            raw={"offline": True, "method": payment.method},
        )


class GatewayMethod(PaymentMethod):
    """A method whose money moves through a payment gateway, identified by a token."""

    uses_gateway = True
    requires_token = True

    def gateway_name(self) -> str:
        return settings.PAYMENT_DEFAULT_GATEWAY

    def validate(self, *, order, token: str) -> dict[str, list[str]]:
        if not token:
            return {"token": [f"A {self.label.lower() or 'gateway'} payment needs a token."]}
        if CARD_NUMBER.match(token):
            return {"token": ["Send the payment form's token, never a card number."]}
        if len(token) > 128:
            return {"token": ["A token has at most 128 characters."]}
        return {}

    def gateway(self, payment) -> Gateway:
        return get_gateway(payment.gateway)

    @staticmethod
    def _amount(payment, amount: Decimal) -> Decimal:
        # Gateways take amounts in the currency's minor unit; the database keeps five decimals.
        return quantize_money(amount, payment.currency)

    def authorize(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self.gateway(payment).authorize(
            token=payment.token,
            amount=self._amount(payment, payment.amount),
            currency=payment.currency_id,
            idempotency_key=idempotency_key,
        )

    def status(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self.gateway(payment).status(reference=payment.authorization_reference, idempotency_key=idempotency_key)

    def capture(self, *, payment, amount: Decimal, idempotency_key: str) -> GatewayResult:
        return self.gateway(payment).capture(
            reference=payment.authorization_reference,
            amount=self._amount(payment, amount),
            currency=payment.currency_id,
            idempotency_key=idempotency_key,
        )

    def void(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self.gateway(payment).void(reference=payment.authorization_reference, idempotency_key=idempotency_key)

    def refund(self, *, payment, amount: Decimal, idempotency_key: str) -> GatewayResult:
        return self.gateway(payment).refund(
            reference=payment.authorization_reference,
            amount=self._amount(payment, amount),
            currency=payment.currency_id,
            idempotency_key=idempotency_key,
        )


class CardMethod(GatewayMethod):
    label = "Card"


class CashOnDeliveryMethod(PaymentMethod):
    label = "Cash on delivery"


class ExternalAccountMethod(PaymentMethod):
    """A method charged to the buyer's account: the external-account hook says YES, REVIEW or NO.

    The hook (``settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK``, by default the organization's credit line)
    runs for the methods named in ``settings.PAYMENT_EXTERNAL_ACCOUNT_METHODS``.
    """

    name = ""

    def authorize(self, *, payment, idempotency_key: str) -> GatewayResult:
        # Imported when called: payments.credit_line loads payments.policies, which loads this module.
        from payments.credit_line import decision_of, external_account_methods

        if payment.method not in external_account_methods():
            return self._offline(payment, amount=payment.amount)
        hook = import_string(settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK)
        order = payment.order
        try:
            answer = hook(customer=order.customer, order=order, amount=payment.amount, currency=payment.currency_id)
            decision = decision_of(answer)
        except Exception as exc:
            # The hook is another system: its failure is an answer the payment records and retries.
            logger.exception("External-account hook failed for payment %s", payment.pk)
            return self._offline(payment, outcome=Outcome.ERROR, error=f"External-account hook failed: {exc}"[:500])
        if decision == "no":
            return self._offline(payment, outcome=Outcome.DECLINED, error="The external account refused the charge.")
        if decision == "review":
            result = self._offline(payment, amount=payment.amount)
            return GatewayResult(
                Outcome.REVIEW,
                reference=result.reference,
                amount=payment.amount,
                error="Above the account's credit line.",
                raw=result.raw,
            )
        return self._offline(payment, amount=payment.amount)

    def status(self, *, payment, idempotency_key: str) -> GatewayResult:
        return self.authorize(payment=payment, idempotency_key=idempotency_key)


class BillMeMethod(ExternalAccountMethod):
    """Invoice the buyer's account."""

    label = "Bill me"


class PurchaseOrderMethod(ExternalAccountMethod):
    """Pay against a purchase order; its limits are checked by the spending-limits app."""

    label = "Purchase order"

    def validate(self, *, order, token: str) -> dict[str, list[str]]:
        if not order.purchase_order_number:
            return {"method": ["A purchase order payment needs the order's purchase order number."]}
        return {}


def method_names() -> list[str]:
    return sorted(settings.PAYMENT_METHODS)


def get_method(name: str) -> PaymentMethod:
    """Return the method registered under ``name``."""
    path = settings.PAYMENT_METHODS.get(name)
    if path is None:
        raise LookupError(f"No payment method {name!r} in PAYMENT_METHODS.")
    return import_string(path)()
