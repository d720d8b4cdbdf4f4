"""The demo data: created once, left as it is on later runs."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from commerce import roles
from commerce.models import Currency, Customer, ExchangeRate, Organization, PaperSize, Product, Store
from fulfillment.models import ExpectedReceipt, ExpectedReceiptLine, FulfillmentCenter, Stock
from orders import services
from orders.demo import seed_promotions
from orders.models import Order
from payments.demo import seed_payment_policies
from spending_limits.models import PurchaseOrder, TradingAgreement

DEMO_PASSWORD = "demo-password"

# sku, name, price, backorderable, weight, {center: (on_hand, bin)}
PRODUCTS = [
    ("DEMO-TSHIRT", "Demo T-shirt", "19.00", True, "0.200", {"EAST": (100, "A-01-01"), "WEST": (50, "W-01-01")}),
    ("DEMO-MUG", "Demo mug", "12.50", True, "0.350", {"EAST": (5, "A-02-03"), "WEST": (0, "W-02-03")}),
    ("DEMO-POSTER", "Demo poster", "8.00", False, "0.100", {"EAST": (10, "B-01-02"), "WEST": (0, "W-03-01")}),
    ("DEMO-LAPTOP", "Demo laptop", "1499.00", True, "2.100", {"EAST": (3, "C-05-01"), "WEST": (2, "W-05-01")}),
    ("DEMO-HOODIE", "Demo hoodie", "45.00", True, "0.600", {"EAST": (40, "A-01-04"), "WEST": (25, "W-01-04")}),
    ("DEMO-CAP", "Demo cap", "15.00", False, "0.120", {"EAST": (60, "A-03-02"), "WEST": (30, "W-03-02")}),
    ("DEMO-STICKERS", "Demo sticker pack", "4.50", False, "0.020", {"EAST": (500, "B-02-01"), "WEST": (0, "")}),
    ("DEMO-BACKPACK", "Demo backpack", "79.00", True, "0.900", {"EAST": (0, "C-01-02"), "WEST": (12, "W-04-02")}),
]

STAFF = [
    ("admin", None, True),
    ("clerk", roles.ORDER_CLERK, False),
    ("payments", roles.PAYMENT_APPROVER, False),
    ("warehouse", roles.WAREHOUSE, False),
    ("supervisor", roles.SUPERVISOR, False),
]


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)

    def note(self, what: str, created: bool) -> None:
        if created:
            self.created.append(what)


def _user(username: str, *, email: str, staff: bool = False, superuser: bool = False, first_name: str = ""):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": email, "is_staff": staff or superuser, "is_superuser": superuser, "first_name": first_name},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user, created


@transaction.atomic
def seed_demo() -> SeedResult:
    result = SeedResult()
    usd = Currency.objects.get_or_create(code="USD", defaults={"name": "US dollar", "minor_units": 2})[0]
    eur = Currency.objects.get_or_create(code="EUR", defaults={"name": "Euro", "minor_units": 2})[0]
    gbp = Currency.objects.get_or_create(code="GBP", defaults={"name": "Pound sterling", "minor_units": 2})[0]
    jpy = Currency.objects.get_or_create(code="JPY", defaults={"name": "Japanese yen", "minor_units": 0})[0]
    for source, target, rate in [(usd, eur, "0.92"), (eur, usd, "1.087"), (usd, gbp, "0.79")]:
        _, created = ExchangeRate.objects.get_or_create(
            from_currency=source, to_currency=target, defaults={"rate": Decimal(rate)}
        )
        result.note(f"rate {source}->{target}", created)

    store, created = Store.objects.get_or_create(
        code="demo",
        defaults={
            "name": "Demo Store",
            "currency": usd,
            "is_default": not Store.objects.filter(is_default=True).exists(),
            "email": "orders@demo-store.example",
            "address": "Demo Store\n1 Commerce Way\nSpringfield, IL 62701\nUS",
            "review_threshold": Decimal("20000.00"),
            "tax_rates": {"US": "0.0825", "CA": "0.13", "GB": "0.20", "DE": "0.19"},
            "shipping_charges": {"STANDARD": "5.00", "EXPRESS": "15.00", "OVERNIGHT": "30.00"},
            "shipping_taxable": True,
            "packing_slip_note": "Thank you for your order! Returns accepted within 30 days.",
            # A US store prints on US Letter.
            "paper_size": PaperSize.LETTER,
        },
    )
    result.note("store Demo Store", created)

    centers = {}
    for code, name, priority, address in [
        ("EAST", "East fulfillment center", 1, "100 Harbor Rd\nNewark, NJ 07114\nUS"),
        ("WEST", "West fulfillment center", 2, "200 Valley Blvd\nReno, NV 89502\nUS"),
    ]:
        centers[code], created = FulfillmentCenter.objects.get_or_create(
            code=code, defaults={"name": name, "priority": priority, "address": address}
        )
        result.note(f"fulfillment center {code}", created)

    products = {}
    for sku, name, price, backorderable, weight, stock in PRODUCTS:
        products[sku], created = Product.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "description": f"{name} for the demo store.",
                "price": Decimal(price),
                "currency": usd,
                "backorderable": backorderable,
                "weight": Decimal(weight),
            },
        )
        result.note(f"product {sku}", created)
        for center_code, (on_hand, bin_) in stock.items():
            Stock.objects.get_or_create(
                fulfillment_center=centers[center_code],
                product=products[sku],
                defaults={"on_hand": on_hand, "bin": bin_},
            )

    receipt, created = ExpectedReceipt.objects.get_or_create(
        number="DEMO-ER-1",
        defaults={
            "fulfillment_center": centers["EAST"],
            "vendor": "Mugs & Co.",
            "expected_at": timezone.localdate() + timedelta(days=7),
        },
    )
    result.note("expected receipt DEMO-ER-1", created)
    ExpectedReceiptLine.objects.get_or_create(
        receipt=receipt, product=products["DEMO-MUG"], defaults={"quantity_ordered": 20}
    )

    acme, created = Organization.objects.get_or_create(
        code="acme",
        defaults={
            "name": "ACME",
            "approval_threshold": Decimal("5000.00"),
            "approval_currency": usd,
            "credit_limit": Decimal("50000.00"),
            "credit_currency": usd,
        },
    )
    result.note("organization ACME", created)

    for username, first_name in [("alice", "Alice"), ("dave", "Dave")]:
        user, created = _user(username, email=f"{username}@example.com", first_name=first_name)
        Customer.objects.get_or_create(user=user)
        result.note(f"consumer {username}", created)
    bob, created = _user("bob", email="bob@acme.example", first_name="Bob")
    Customer.objects.get_or_create(user=bob, defaults={"organization": acme})
    result.note("B2B buyer bob", created)
    carol, created = _user("carol", email="carol@acme.example", first_name="Carol")
    Customer.objects.get_or_create(user=carol, defaults={"organization": acme})
    acme.approvers.add(carol)
    result.note("approver carol", created)

    for username, role, superuser in STAFF:
        user, created = _user(username, email=f"{username}@demo-store.example", staff=True, superuser=superuser)
        if role:
            user.groups.add(Group.objects.get(name=role))
        result.note(f"staff {username}", created)

    for number, currency, limit in [("ACME-TA-1", eur, Decimal("10000.00")), ("ACME-TA-JPY", jpy, Decimal("1000000"))]:
        _, created = TradingAgreement.objects.get_or_create(
            number=number,
            defaults={
                "organization": acme,
                "name": f"ACME agreement {number}",
                "currency": currency,
                "limit_amount": limit,
                "requires_purchase_order": False,
            },
        )
        result.note(f"trading agreement {number}", created)
    for number, po_type, limit in [
        ("ACME-PO-LIMITED", PurchaseOrder.Type.LIMITED, Decimal("2000.00")),
        ("ACME-PO-SINGLE", PurchaseOrder.Type.SINGLE_USE, Decimal("5000.00")),
        ("ACME-PO-BLANKET", PurchaseOrder.Type.BLANKET, None),
    ]:
        _, created = PurchaseOrder.objects.get_or_create(
            organization=acme, number=number, defaults={"type": po_type, "limit_amount": limit, "currency": usd}
        )
        result.note(f"purchase order {number}", created)

    _seed_app_extras(store)
    for variant in _seed_variant_stores(store=store, products=products, result=result):
        _seed_app_extras(variant, promotions=False)
    return result


# The flow-variant stores of DESIGN section 18: code, name, inventory system, payment system, rules.
VARIANT_STORES = [
    ("demo-nonatp", "Demo Non-ATP Store", "non_atp", "commerce_payments", {}),
    ("demo-rules", "Demo Payment Rules Store", "atp", "payment_rules",
     {"card": "early_approval", "bill_me": "approve_on_reservation", "cod": "deposit_only"}),
    ("demo-digital", "Demo Digital Store", "none", "payment_rules", {"card": "early_approval"}),
]  # fmt: skip
NON_ATP_CENTER = "NONATP"
NON_ATP_ON_HAND = 50


def _seed_variant_stores(*, store: Store, products: dict, result: SeedResult) -> list[Store]:
    """The non-ATP, payment-rules and digital demo stores, on the main store's products and settings."""
    stores = []
    copied = [
        "currency",
        "email",
        "address",
        "review_threshold",
        "tax_rates",
        "shipping_charges",
        "shipping_taxable",
        "packing_slip_note",
    ]
    for code, name, inventory_system, payment_system, rules in VARIANT_STORES:
        variant, created = Store.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "inventory_system": inventory_system,
                "payment_system": payment_system,
                "payment_rules": rules,
                **{field: getattr(store, field) for field in copied},
            },
        )
        result.note(f"store {name}", created)
        stores.append(variant)
    center, created = FulfillmentCenter.objects.get_or_create(
        code=NON_ATP_CENTER,
        defaults={
            "name": "Non-ATP fulfillment center",
            "priority": 1,
            "inventory_system": "non_atp",
            "address": "300 Lake Shore Dr\nChicago, IL 60611\nUS",
        },
    )
    result.note(f"fulfillment center {NON_ATP_CENTER}", created)
    center.stores.add(stores[0])
    for product in products.values():
        Stock.objects.get_or_create(fulfillment_center=center, product=product, defaults={"on_hand": NON_ATP_ON_HAND})
    for center_code in ("EAST", "WEST"):
        FulfillmentCenter.objects.get(code=center_code).stores.add(store, stores[1])
    return stores


def _seed_app_extras(store: Store, *, promotions: bool = True) -> None:
    """Demo settings that belong to other apps (accept policies, ...)."""
    seed_payment_policies(store=store)
    if promotions:
        seed_promotions(store=store)


LOGINS = [
    ("admin", "superuser (everything)"),
    ("clerk", "order clerk"),
    ("payments", "payment approver"),
    ("warehouse", "warehouse"),
    ("supervisor", "supervisor"),
    ("alice", "consumer (API)"),
    ("dave", "consumer (API)"),
    ("bob", "ACME buyer (API)"),
    ("carol", "ACME approver (API)"),
]


# sku quantities, payment method, token, trading agreement: a lively admin on first start. Only products
# outside the demo-data contract, so the contract's stock figures stay as they are.
DEMO_ORDERS = [
    ("alice", [("DEMO-HOODIE", 1), ("DEMO-CAP", 2)], "card", "tok_approve", ""),
    ("dave", [("DEMO-BACKPACK", 1)], "card", "tok_review", ""),
    ("alice", [("DEMO-STICKERS", 3)], "card", "tok_pending", ""),
    ("dave", [("DEMO-CAP", 1)], "cod", "", ""),
    ("bob", [("DEMO-HOODIE", 60), ("DEMO-BACKPACK", 30)], "card", "tok_approve", "ACME-TA-1"),
]


def seed_demo_orders() -> list[str]:
    """Place a few orders through the real services, once (nothing when any order exists)."""
    if Order.objects.exists():
        return []
    placed = []
    for username, lines, method, token, agreement_number in DEMO_ORDERS:
        customer = Customer.objects.select_related("user", "organization").get(user__username=username)
        agreement = TradingAgreement.objects.get(number=agreement_number) if agreement_number else None
        data = services.PlacementInput(
            customer=customer,
            items=[
                services.ItemInput(product=Product.objects.get(sku=sku), quantity=quantity, trading_agreement=agreement)
                for sku, quantity in lines
            ],
            payment_method=method,
            payment_token=token,
            shipping_address=services.AddressInput(
                name=customer.user.get_full_name() or username.title(),
                line1="12 Elm Street",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="US",
            ),
        )
        order, _ = services.order_place(data=data, acting_user=customer.user)
        placed.append(f"{order.number} ({username}, {order.get_status_display()})")
    return placed
