"""The payments part of the demo data, called by ``seed_demo``."""

from decimal import Decimal

from commerce.models import Store
from payments.gateways.base import Verification
from payments.models import AcceptPolicy

MISMATCH = [Verification.MISMATCH.value]

DEMO_POLICIES = {
    # Review only on an address or security code mismatch, or above 20000.00 (the store's currency).
    "card": {
        "needs_approval": False,
        "review_threshold": Decimal("20000.00"),
        "review_avs_results": MISMATCH,
        "review_cvv_results": MISMATCH,
    },
    "cod": {"needs_approval": False, "review_threshold": None, "review_avs_results": [], "review_cvv_results": []},
    "bill_me": {"needs_approval": False, "review_threshold": None, "review_avs_results": [], "review_cvv_results": []},
}


def seed_payment_policies(*, store: Store) -> list[AcceptPolicy]:
    """Give the demo store its accept policies; policies already there are left as they are."""
    return [
        AcceptPolicy.objects.get_or_create(store=store, method=method, defaults=values)[0]
        for method, values in DEMO_POLICIES.items()
    ]
