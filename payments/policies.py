"""Accept policies: what a store makes of a payment method's answer (YES, NO, REVIEW or WORKING)."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.core.cache import cache

from commerce.currency import convert
from commerce.errors import NoExchangeRate
from commerce.models import Store
from payments.gateways.base import GatewayResult, Outcome, Verification
from payments.methods import get_method
from payments.models import AcceptPolicy, PaymentStatus


class PaymentDecision(StrEnum):
    YES = "yes"  # the money is there: go on
    NO = "no"  # declined
    REVIEW = "review"  # authorized, but a person must approve it first
    WORKING = "working"  # no answer yet: a later sync or retry resolves it


D = PaymentDecision
S = PaymentStatus

# The answers that decide by themselves; a success still passes the review checks.
OUTCOME_DECISIONS = {
    Outcome.DECLINED: D.NO,
    Outcome.PENDING: D.WORKING,
    Outcome.TIMEOUT: D.WORKING,
    Outcome.ERROR: D.WORKING,
    Outcome.REVIEW: D.REVIEW,
}

STATUS_DECISIONS = {
    S.NEW: D.WORKING,
    S.PENDING: D.WORKING,
    S.AUTHORIZED: D.YES,
    S.REVIEW: D.REVIEW,
    S.DECLINED: D.NO,
    S.DEPOSITED: D.YES,
    S.PARTIALLY_REFUNDED: D.YES,
    S.REFUNDED: D.NO,
    S.VOIDED: D.NO,
    S.EXPIRED: D.NO,
}

DEFAULT_REVIEW_RESULTS = frozenset({Verification.MISMATCH.value})


def decision_for_status(status: str) -> PaymentDecision:
    """Return what a payment in ``status`` means for its order."""
    return STATUS_DECISIONS[S(status)]


@dataclass(frozen=True)
class Policy:
    """A store's effective policy for one method (its AcceptPolicy row, or the defaults)."""

    method: str
    accepted: bool = True
    needs_approval: bool = False
    review_threshold: Decimal | None = None
    threshold_currency: str = ""
    review_avs_results: frozenset[str] = DEFAULT_REVIEW_RESULTS
    review_cvv_results: frozenset[str] = DEFAULT_REVIEW_RESULTS

    def review_reasons(self, *, result: GatewayResult, amount: Decimal, currency: str) -> list[str]:
        """Return why an approved payment must be reviewed (none: it may go on)."""
        reasons = []
        if self.needs_approval:
            reasons.append(f"Payments by {self.method} need approval.")
        if result.avs_result and result.avs_result in self.review_avs_results:
            reasons.append(f"Address check (AVS): {result.avs_result}.")
        if result.cvv_result and result.cvv_result in self.review_cvv_results:
            reasons.append(f"Security code check (CVV): {result.cvv_result}.")
        approved = result.amount if result.amount is not None else amount
        if approved < amount:
            reasons.append(f"Only {approved} {currency} of {amount} approved.")
        if self.review_threshold is not None:
            try:
                compared = convert(amount, from_currency=currency, to_currency=self.threshold_currency).amount
            except NoExchangeRate:
                reasons.append(f"No exchange rate to compare {amount} {currency} with the review threshold.")
            else:
                if compared > self.review_threshold:
                    reasons.append(f"Above the review threshold of {self.review_threshold} {self.threshold_currency}.")
        return reasons

    def decide(self, *, result: GatewayResult, amount: Decimal, currency: str) -> tuple[PaymentDecision, list[str]]:
        """Turn an authorization answer into a decision and the reasons for a review."""
        if result.outcome in OUTCOME_DECISIONS:
            decision = OUTCOME_DECISIONS[result.outcome]
            reasons = ["The gateway flagged the payment for review."] if decision == D.REVIEW else []
            return decision, reasons
        reasons = self.review_reasons(result=result, amount=amount, currency=currency)
        return (D.REVIEW if reasons else D.YES), reasons


POLICY_CACHE_SECONDS = 60


def _policy_cache_key(store_id: int, method: str) -> str:
    return f"payments:accept-policy:{store_id}:{method}"


def policy_cache_clear(*, store_id: int, method: str) -> None:
    """Forget a cached policy (on every save or delete of an AcceptPolicy or a Store)."""
    cache.delete(_policy_cache_key(store_id, method))


def policy_for(*, store: Store, method: str) -> Policy:
    """Return the store's policy for a method: its AcceptPolicy row, else the method's defaults.

    Cached for a minute (every checkout asks twice); saving a policy or its store clears it.
    """
    key = _policy_cache_key(store.pk, method)
    policy = cache.get(key)
    if policy is None:
        policy = _load_policy(store=store, method=method)
        cache.set(key, policy, POLICY_CACHE_SECONDS)
    return policy


def _load_policy(*, store: Store, method: str) -> Policy:
    method_class = get_method(method)
    row = AcceptPolicy.objects.filter(store=store, method=method).first()
    # The store-wide threshold is about card risk: it applies to gateway methods only.
    store_threshold = store.review_threshold if method_class.uses_gateway else None
    if row is None:
        return Policy(
            method=method,
            needs_approval=method_class.needs_approval,
            review_threshold=store_threshold,
            threshold_currency=store.currency_id,
        )
    return Policy(
        method=method,
        accepted=row.accepted,
        needs_approval=row.needs_approval,
        review_threshold=row.review_threshold if row.review_threshold is not None else store_threshold,
        threshold_currency=store.currency_id,
        review_avs_results=frozenset(row.review_avs_results or ()),
        review_cvv_results=frozenset(row.review_cvv_results or ()),
    )
