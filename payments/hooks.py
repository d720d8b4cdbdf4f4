"""External-account hooks for the ``bill_me`` method (``settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK``).

A hook is called outside any transaction as ``hook(customer=, order=, amount=, currency=)`` and
returns True when the buyer's account may be billed ``amount`` in ``currency``. An exception it
raises counts as an error: the payment stays pending and ``payment_sync`` asks again.
"""

from decimal import Decimal


def approve_all_accounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    """Approve every account (the default, for stores without an accounts system)."""
    return True
