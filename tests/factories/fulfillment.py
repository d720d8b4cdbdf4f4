from datetime import timedelta

import factory
from django.utils import timezone

from fulfillment.models import ExpectedReceipt, ExpectedReceiptLine, FulfillmentCenter, Stock
from tests.factories.commerce import ProductFactory


class FulfillmentCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FulfillmentCenter
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"FC{n}")
    name = factory.LazyAttribute(lambda o: f"Center {o.code}")
    address = "1 Warehouse Rd\nNewark\nUS"
    priority = 1


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock

    fulfillment_center = factory.SubFactory(FulfillmentCenterFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 10
    allocated = 0
    bin = factory.Sequence(lambda n: f"A-{n:02d}-01")


class ExpectedReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectedReceipt

    number = factory.Sequence(lambda n: f"ER-{n:05d}")
    fulfillment_center = factory.SubFactory(FulfillmentCenterFactory)
    vendor = "Vendor Inc."
    expected_at = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))


class ExpectedReceiptLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectedReceiptLine

    receipt = factory.SubFactory(ExpectedReceiptFactory)
    product = factory.SubFactory(ProductFactory)
    quantity_ordered = 20


def allocated_order(*, lines, status: str = "C", **order_kwargs):
    """An order whose items are allocated from stock, as checkout leaves it.

    ``lines`` is a list of ``(product, {center: quantity})``: one item per product, its quantity the
    sum over the centers. The centers' stock rows are created when missing and their ``allocated``
    raised by the allocation, so stock and allocation rows reconcile.
    """
    from fulfillment.models import Allocation
    from orders.models import InventoryStatus
    from tests.factories.orders import OrderFactory, OrderItemFactory, recompute_totals

    order = OrderFactory(status=status, **order_kwargs)
    for product, by_center in lines:
        item = OrderItemFactory(
            order=order,
            product=product,
            quantity=sum(by_center.values()),
            status=status,
            inventory_status=InventoryStatus.ALLOCATED,
        )
        for center, quantity in by_center.items():
            stock, _ = Stock.objects.get_or_create(
                fulfillment_center=center,
                product=product,
                defaults={"on_hand": quantity + 10, "bin": f"{center.code}-{product.sku[-3:]}"},
            )
            stock.allocated += quantity
            stock.on_hand = max(stock.on_hand, stock.allocated)
            stock.save()
            Allocation.objects.create(order_item=item, fulfillment_center=center, kind="stock", quantity=quantity)
    return recompute_totals(order)


def released_order(*, lines, status: str = "C", **order_kwargs):
    """An allocated order released to fulfillment the way the release job does it."""
    from django.db import transaction

    from fulfillment.releases import releases_create
    from orders.models import Order
    from orders.services.common import _release_items

    order = allocated_order(lines=lines, status=status, **order_kwargs)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        items = list(order.items.order_by("pk"))
        order._prefetched_objects_cache = {"items": items}
        releases_create(order=order, items=items, actor_name="test")
        _release_items(items)
        order.release()
        order.save()
    return Order.objects.get(pk=order.pk)
