"""Payment systems (DESIGN section 18): when an order's payment is approved and deposited.

A store's ``payment_system`` names one of the classes of the ``PAYMENT_SYSTEMS`` setting; the order
services ask it at the three events of the seed's Payments subsystem: *prime* (submit), *reserve*
(release to fulfillment) and *finalize* (shipment of each release). Resolving a system reads settings and
the loaded store row only, never the database.

- ``commerce_payments``: section 7 as built: authorize at prime, check the authorization at reserve,
  ``balance_payment`` deposits the shipped order.
- ``payment_rules``: each payment method of the store has a rule (``Store.payment_rules``), a row of
  ``RULES``: ``early_approval`` approves at prime, ``approve_on_reservation`` at reserve, ``deposit_only``
  never (the deposit alone takes the money); every rule deposits per shipped release at finalize.

A fourth kind is a subclass of ``PaymentSystem`` and one entry in ``PAYMENT_SYSTEMS``.
"""

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

APPROVE = "approve"
CHECK = "check"
DEPOSIT = "deposit"


@dataclass(frozen=True)
class Rule:
    """What a payment rule does at each event; empty: nothing."""

    prime: str = ""
    reserve: str = ""
    finalize: str = DEPOSIT


RULES: dict[str, Rule] = {
    "early_approval": Rule(prime=APPROVE, reserve=CHECK),
    "approve_on_reservation": Rule(reserve=APPROVE),
    "deposit_only": Rule(),
}
DEFAULT_RULE = "early_approval"


class PaymentSystem:
    """Authorize at submit, check at release, deposit the whole shipped order (section 7)."""

    name = ""
    # balance_payment, sync_pending_payments and payment_cleanup select this system's stores.
    uses_commerce_payments_jobs = True
    # order_payment_synchronize, process_depositable_amount and order_close select them.
    uses_payment_rules_jobs = False
    # Each shipped release is deposited at once (finalize), not the whole order by balance_payment.
    deposits_per_release = False

    def rule(self, *, store, method: str) -> Rule:
        return RULES[DEFAULT_RULE]

    def validate_rules(self, rules) -> list[str]:
        """The problems of a store's ``payment_rules`` under this system (none: it reads none)."""
        return []

    def approves_at_submit(self, *, store, method: str) -> bool:
        return self.rule(store=store, method=method).prime == APPROVE

    def approves_at_release(self, *, store, method: str) -> bool:
        return self.rule(store=store, method=method).reserve == APPROVE


class CommercePayments(PaymentSystem):
    name = "commerce_payments"


class PaymentRules(PaymentSystem):
    """The seed's Payments subsystem: a rule per payment method, deposits per shipped release."""

    name = "payment_rules"
    uses_commerce_payments_jobs = False
    uses_payment_rules_jobs = True
    deposits_per_release = True

    def rule(self, *, store, method: str) -> Rule:
        return RULES[(store.payment_rules or {}).get(method, DEFAULT_RULE)]

    def validate_rules(self, rules) -> list[str]:
        return payment_rules_validate(rules)


@cache
def _system(name: str) -> PaymentSystem:
    try:
        path = settings.PAYMENT_SYSTEMS[name]
    except KeyError:
        raise ValueError(
            f"No payment system {name!r}; PAYMENT_SYSTEMS has {', '.join(settings.PAYMENT_SYSTEMS)}."
        ) from None
    return import_string(path)()


def payment_system_for(store) -> PaymentSystem:
    """The payment system of a (loaded) store; no query."""
    return _system(store.payment_system)


def payment_system_names(*, uses: str) -> list[str]:
    """The names of the systems with the flag ``uses`` set (for the jobs' selections)."""
    return [name for name in settings.PAYMENT_SYSTEMS if getattr(_system(name), uses)]


def payment_rules_validate(rules: dict) -> list[str]:
    """The problems of a store's ``payment_rules`` value, for the admin form and the service."""
    if not isinstance(rules, dict):
        return ["Give an object of payment method to rule."]
    return [
        f"{method}: no rule {rule!r}; use {', '.join(RULES)}." for method, rule in rules.items() if rule not in RULES
    ]
