"""Spending-limit failures: an order the agreements and purchase orders of its buyer do not cover."""

from commerce.errors import ApplicationError, NoExchangeRate

__all__ = ["NoExchangeRate", "PurchaseOrderInvalid", "SpendingLimitExceeded", "TradingAgreementInvalid"]


class SpendingLimitExceeded(ApplicationError):
    """The order needs more than an agreement or a purchase order has left."""

    code = "spending_limit_exceeded"
    status_code = 409


class TradingAgreementInvalid(SpendingLimitExceeded):
    """The agreement gives no right to buy now: not active, outside its window, or another buyer's.

    It keeps the ``spending_limit_exceeded`` code of the API contract; ``details["reason"]`` tells the cases apart.
    """


class PurchaseOrderInvalid(ApplicationError):
    """A purchase order is missing where required, unknown, closed, or a single-use one already used."""

    code = "purchase_order_invalid"
    status_code = 409
