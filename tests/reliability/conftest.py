"""The reliability suite's shop, placement helper, race runner and the invariants every test checks."""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from commerce.errors import ApplicationError
from commerce.jobs import job_run
from commerce.models import Customer, Product, Store
from fulfillment.batches import pick_batch_create
from fulfillment.models import Allocation, FulfillmentCenter, Release, ReleaseItem, Stock
from fulfillment.services import inventory_check
from fulfillment.shipping import package_confirm_shipment, package_create
from orders import services
from orders.jobs import RELEASE_TO_FULFILLMENT, SYNC_PENDING_PAYMENTS
from orders.models import InventoryStatus, Order, OrderItem, OrderStatus
from orders.totals import apply_totals
from payments.models import Payment, PaymentStatus, SimulatedAuthorization
from payments.selectors import payment_ledger
from tests.factories.commerce import CustomerFactory, ProductFactory, StoreFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, StockFactory

S = OrderStatus
ADDRESS = services.AddressInput(
    name="Ada Buyer", line1="12 Elm Street", city="Springfield", region="IL", postal_code="62701", country="US"
)
# Payment statuses that hold (or may come to hold) the buyer's money at the gateway.
HOLDING = (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.REVIEW)


@dataclass
class Shop:
    store: Store
    east: FulfillmentCenter
    west: FulfillmentCenter
    products: list[Product]


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


def make_shop() -> Shop:
    """A default store with tax and shipping, two centers and three products in stock at both."""
    store = StoreFactory(is_default=True)
    east = FulfillmentCenterFactory(code="EAST", priority=1)
    west = FulfillmentCenterFactory(code="WEST", priority=2)
    products = [
        ProductFactory(sku=f"REL-{n}", price=Decimal(price)) for n, price in enumerate(["19.99", "5.25", "120.00"])
    ]
    for product in products:
        StockFactory(product=product, fulfillment_center=east, on_hand=500)
        StockFactory(product=product, fulfillment_center=west, on_hand=500)
    return Shop(store=store, east=east, west=west, products=products)


def token_header(user) -> str:
    """The Authorization header of the user's API token."""
    token, _ = Token.objects.get_or_create(user=user)
    return f"Token {token.key}"


def placement(customer: Customer, lines: Sequence[tuple[Product, int]], *, token: str = "tok_approve", key: str = ""):
    return services.PlacementInput(
        customer=customer,
        items=[services.ItemInput(product=product, quantity=quantity) for product, quantity in lines],
        payment_method="card",
        payment_token=token,
        shipping_address=ADDRESS,
        idempotency_key=key,
        fingerprint=f"{[(p.sku, q) for p, q in lines]}" if key else "",
    )


def place(lines: Sequence[tuple[Product, int]], *, customer: Customer | None = None, token: str = "tok_approve"):
    """Place an order through the checkout service and return it fresh from the database."""
    order, _ = services.order_place(data=placement(customer or CustomerFactory(), lines, token=token))
    return Order.objects.get(pk=order.pk)


def ship_everything_released(centers: Sequence[FulfillmentCenter]) -> None:
    """Batch, pack and confirm the shipment of every ready release, as the warehouse does."""
    for center in centers:
        while Release.objects.filter(fulfillment_center=center, status=Release.Status.READY).exists():
            batch = pick_batch_create(fulfillment_center=center, actor_name="warehouse")
            for release in batch.releases.order_by("pk"):
                package = package_create(release=release, carrier="UPS", tracking_number=f"1Z{release.pk:08d}")
                package_confirm_shipment(package=package)


def shipped_orders(shop: Shop, count: int, *, token: str = "tok_approve") -> list[Order]:
    """Orders placed, released, picked, packed and shipped through the services: S, payment authorized."""
    tshirt, mug, _ = shop.products
    orders = [place([(tshirt, 1), (mug, 2)], token=token) for _ in range(count)]
    job_run(spec=SYNC_PENDING_PAYMENTS)  # authorizations whose answer a timeout lost
    job_run(spec=RELEASE_TO_FULFILLMENT)
    ship_everything_released([shop.east, shop.west])
    orders = list(Order.objects.filter(pk__in=[order.pk for order in orders]).order_by("pk"))
    assert {order.status for order in orders} == {S.SHIPPED}
    return orders


def authorized_orders(shop: Shop, count: int, *, quantity: int = 1) -> list[Order]:
    """``count`` authorized (C) orders of one unit line each, written in bulk, as checkout leaves them.

    Each item is allocated from EAST's stock, each order has a current card payment authorized for its
    grand total, and the simulated gateway holds the matching authorization.
    """
    product = shop.products[0]
    customer = CustomerFactory()
    now = timezone.now()
    orders, items = [], []
    for _ in range(count):
        order = Order(
            store=shop.store,
            customer=customer,
            currency=shop.store.currency,
            status=S.AUTHORIZED,
            ship_to_name=ADDRESS.name,
            ship_to_line1=ADDRESS.line1,
            ship_to_city=ADDRESS.city,
            ship_to_postal_code=ADDRESS.postal_code,
            ship_to_country=ADDRESS.country,
            placed_at=now,
        )
        item = OrderItem(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=quantity,
            unit_price=product.price,
            status=S.AUTHORIZED,
            inventory_status=InventoryStatus.ALLOCATED,
        )
        apply_totals(order=order, items=[item])
        orders.append(order)
        items.append(item)
    Order.objects.bulk_create(orders)
    for order, item in zip(orders, items, strict=True):
        item.order = order
    OrderItem.objects.bulk_create(items)
    Allocation.objects.bulk_create(
        Allocation(order_item=item, fulfillment_center=shop.east, kind=Allocation.Kind.STOCK, quantity=quantity)
        for item in items
    )
    Stock.objects.filter(fulfillment_center=shop.east, product=product).update(
        allocated=F("allocated") + count * quantity, on_hand=F("on_hand") + count * quantity
    )
    expires_at = now + timedelta(days=7)
    references = [f"SIM-BULK{n:08d}" for n in range(count)]
    SimulatedAuthorization.objects.bulk_create(
        SimulatedAuthorization(
            reference=reference,
            token="tok_approve",
            currency=order.currency_id,
            amount=order.grand_total,
            approved_amount=order.grand_total,
            state="approved",
            avs_result="match",
            cvv_result="match",
            expires_at=expires_at,
        )
        for order, reference in zip(orders, references, strict=True)
    )
    Payment.objects.bulk_create(
        Payment(
            order=order,
            method="card",
            gateway="simulated",
            token="tok_approve",
            status=PaymentStatus.AUTHORIZED,
            amount=order.grand_total,
            approved_amount=order.grand_total,
            currency=order.currency,
            authorization_reference=reference,
            expires_at=expires_at,
            sequence=1,
            authorized_at=now,
            avs_result="match",
            cvv_result="match",
        )
        for order, reference in zip(orders, references, strict=True)
    )
    return orders


def race(calls: Sequence[Callable[[], object]], *, timeout: float = 60) -> list[object]:
    """Run the calls in threads released together; each result is its return value or its error code.

    Each thread has its own database connection (closed at the end), as two web or job processes would.
    """
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except ApplicationError as exc:
            results[index] = exc.code
        except Exception as exc:  # the test reports it with the others' outcomes
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing call hung (deadlock?)"
    return results


def assert_consistent() -> None:
    """The invariants money and stock depend on, over the whole database."""
    # Stock: allocated = the sum of stock allocations per (center, product), receipt promises likewise.
    report = inventory_check()
    assert report.clean, (report.stock_drift, report.receipt_drift)
    for stock in Stock.objects.all():
        assert 0 <= stock.allocated <= stock.on_hand, stock

    # Payments: what the payment says it captured and refunded is what the gateway confirmed, once.
    for payment in Payment.objects.all():
        assert payment_ledger(payment=payment).matches(payment), payment
        assert payment.transactions.filter(kind="capture", applied=True).count() <= 1, payment
    for order in Order.objects.filter(status=S.CANCELLED):
        assert not Allocation.objects.filter(order_item__order=order).exists(), order
        assert not order.releases.exclude(status=Release.Status.CANCELLED).exists(), order
        assert not order.payments.filter(status__in=HOLDING).exists(), order
        references = order.payments.exclude(authorization_reference="").values_list(
            "authorization_reference", flat=True
        )
        assert not SimulatedAuthorization.objects.filter(reference__in=references, state="approved").exists(), order

    # Releases: each released item is in releases exactly once, for its whole quantity.
    released = OrderItem.objects.filter(status__in=[S.RELEASED, S.SHIPPED, S.DEPOSITED]).annotate(
        in_releases=Sum("release_items__quantity")
    )
    for item in released:
        assert item.in_releases == item.quantity, item
    assert not ReleaseItem.objects.exclude(order_item__status__in=[S.RELEASED, S.SHIPPED, S.DEPOSITED]).exists()
    numbers = list(Release.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
