from django.core.management.base import BaseCommand

from fulfillment.services import inventory_check


class Command(BaseCommand):
    help = "Recompute allocated stock from the allocation rows and report drift; --repair fixes it."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Write the recomputed numbers.")

    def handle(self, *args, **options):
        report = inventory_check(repair=options["repair"])
        for row in report.stock_drift:
            stock = row["stock"]
            self.stdout.write(
                f"stock {stock.product.sku}@{stock.fulfillment_center.code}: "
                f"allocated {row['recorded']}, allocations say {row['actual']}"
            )
        for row in report.receipt_drift:
            line = row["line"]
            self.stdout.write(
                f"receipt {line.receipt.number}/{line.product.sku}: "
                f"promised {row['recorded']}, allocations say {row['actual']}"
            )
        drift = len(report.stock_drift) + len(report.receipt_drift)
        if report.clean:
            self.stdout.write("Inventory is consistent: no drift.")
        elif report.repaired:
            self.stdout.write(f"Repaired {drift} rows.")
        else:
            self.stdout.write(f"{drift} rows drift; run with --repair to fix them.")
            raise SystemExit(1)
