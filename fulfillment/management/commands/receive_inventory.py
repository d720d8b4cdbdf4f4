from django.core.management.base import BaseCommand, CommandError

from commerce.errors import ApplicationError
from commerce.models import Product
from fulfillment.models import FulfillmentCenter
from fulfillment.services import inventory_receive


class Command(BaseCommand):
    help = "Receive goods into a fulfillment center, closing its expected receipt lines first."

    def add_arguments(self, parser):
        parser.add_argument("--fulfillment-center", required=True, help="Fulfillment center code, e.g. EAST.")
        parser.add_argument("--sku", required=True)
        parser.add_argument("--quantity", required=True, type=int)

    def handle(self, *args, **options):
        try:
            center = FulfillmentCenter.objects.get(code=options["fulfillment_center"])
        except FulfillmentCenter.DoesNotExist:
            raise CommandError(f"No fulfillment center {options['fulfillment_center']!r}.") from None
        try:
            product = Product.objects.get(sku=options["sku"])
        except Product.DoesNotExist:
            raise CommandError(f"No product with SKU {options['sku']!r}.") from None
        try:
            result = inventory_receive(fulfillment_center=center, product=product, quantity=options["quantity"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        stock = result.stock
        self.stdout.write(
            f"Received {result.quantity} x {product.sku} at {center.code}: on hand {stock.on_hand}, "
            f"allocated {stock.allocated}, available {stock.available}; "
            f"{result.promised_to_backorders} held for backorders; "
            f"closed lines: {', '.join(result.closed_lines) or 'none'}"
        )
