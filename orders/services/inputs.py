"""What a placement takes: parsed and validated at the edge (the API serializer or a caller's code)."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from commerce.models import Customer, Product, Store
from spending_limits.models import TradingAgreement

# Input of a placement, parsed and validated at the edge (the API serializer or a caller's code).


@dataclass(frozen=True)
class ItemInput:
    product: Product
    quantity: int
    trading_agreement: TradingAgreement | None = None


@dataclass(frozen=True)
class AddressInput:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""


@dataclass(frozen=True)
class PlacementInput:
    customer: Customer
    items: Sequence[ItemInput]
    payment_method: str
    shipping_address: AddressInput
    payment_token: str = ""
    ship_mode: str = ""
    purchase_order_number: str = ""
    currency: str = ""
    store: Store | None = None
    shipping_note: str = ""
    coupon: str = ""
    placed_by: object = None  # the staff user placing the order on the customer's behalf
    idempotency_key: str = ""
    fingerprint: str = field(default="", compare=False)


def request_fingerprint(payload) -> str:
    """A stable digest of a request body, to tell a retry from a reuse of its idempotency key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
