"""A limit's currency is frozen once used (DESIGN section 16).

Ledger rows are in the trading agreement's or purchase order's currency: once one exists, changing
the currency would make every balance meaningless. ``spending_limit_set_currency`` refuses it with a
clear error; the database refuses it too (a trigger on each table, see migration 0003), so no code
path (an admin form, a shell, a bulk update) can slip past the service.
"""

from django.db import transaction

from commerce.errors import ApplicationError
from commerce.models import Currency
from spending_limits.models import PurchaseOrder, TradingAgreement

Holder = TradingAgreement | PurchaseOrder
FROZEN_MESSAGE = "currency cannot change once the limit has ledger rows"


class CurrencyFrozen(ApplicationError):
    code = "currency_frozen"
    status_code = 409


def holder_has_ledger_rows(holder: Holder) -> bool:
    return holder.purchases.exists() or holder.refunds.exists()


def spending_limit_set_currency(*, holder: Holder, currency: Currency | str) -> Holder:
    """Change an agreement's or purchase order's currency while it has no ledger rows."""
    code = currency if isinstance(currency, str) else currency.code
    with transaction.atomic():
        locked = type(holder).objects.select_for_update().get(pk=holder.pk)
        if locked.currency_id == code:
            return locked
        if holder_has_ledger_rows(locked):
            raise CurrencyFrozen(
                f"{locked.number}: the {FROZEN_MESSAGE} (it stays {locked.currency_id}).",
                details={"currency": [f"Fixed at {locked.currency_id}: ledger rows exist."]},
            )
        locked.currency_id = code
        locked.save(update_fields=["currency"])
    return locked
