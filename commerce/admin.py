from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, admin_link, money
from commerce.models import (
    REPEATED_FAILURE_THRESHOLD,
    Currency,
    Customer,
    ExchangeRate,
    JobItemFailure,
    JobRun,
    Organization,
    Product,
    Store,
)
from orders.models import Order


@admin.register(Store)
class StoreAdmin(ModelAdmin):
    list_display = ["code", "name", "currency", "paper_size", "is_default", "partial_release", "batch_size"]


@admin.register(Currency)
class CurrencyAdmin(ModelAdmin):
    list_display = ["code", "name", "minor_units"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ModelAdmin):
    list_display = ["from_currency", "to_currency", "rate", "updated_at"]


@admin.register(Organization)
class OrganizationAdmin(ModelAdmin):
    list_display = ["code", "name", "approval_threshold", "approval_currency", "credit_limit", "credit_currency",
                    "credit_hold"]  # fmt: skip
    list_filter = ["credit_hold"]
    filter_horizontal = ["approvers"]
    readonly_fields = ["credit_used", "credit_left"]
    fieldsets = [
        (None, {"fields": ["code", "name"]}),
        ("Order approval", {"fields": [("approval_threshold", "approval_currency"), "approvers"]}),
        (
            "Credit line (bill-me and purchase-order payments)",
            {"fields": [("credit_limit", "credit_currency"), "credit_hold", ("credit_used", "credit_left")]},
        ),
    ]

    def _credit_line(self, organization):
        from payments.credit_line import organization_credit_line

        cached = getattr(organization, "_credit_line_cache", None)
        if cached is None and organization.pk:
            cached = organization._credit_line_cache = organization_credit_line(organization=organization)
        return cached

    @admin.display(description="credit used")
    def credit_used(self, organization) -> str:
        line = self._credit_line(organization)
        if line is None or not line.currency:
            return "-"
        return money(line.used, line.currency)

    @admin.display(description="credit left")
    def credit_left(self, organization) -> str:
        line = self._credit_line(organization)
        if line is None or line.left is None:
            return "no credit line"
        return money(line.left, line.currency) + (" (on hold)" if line.on_hold else "")


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    list_display = ["number", "user", "organization"]
    list_select_related = ["user", "organization"]
    search_fields = ["number", "user__username", "user__email"]


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "backorderable", "active"]
    list_filter = ["backorderable", "active"]
    search_fields = ["sku", "name"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "name", "status", "started_at", "took", "processed", "succeeded", "failed",
                    "skipped", "dry_run", "scope", "worker"]  # fmt: skip
    list_filter = ["name", "status", "dry_run", ("started_at", admin.DateFieldListFilter)]
    date_hierarchy = "started_at"
    search_fields = ["name", "worker"]
    readonly_fields = ["name", "status", "dry_run", "scope", "worker", "started_at", "finished_at", "took",
                       "processed", "succeeded", "failed", "skipped", "error_list"]  # fmt: skip
    exclude = ["errors"]

    @admin.display(description="took")
    def took(self, run: JobRun) -> str:
        duration = run.duration
        if duration is None:
            return "-"
        return f"{duration.total_seconds():.1f} s"

    @admin.display(description="errors")
    def error_list(self, run: JobRun) -> str:
        if not run.errors:
            return "-"
        numbers = dict(Order.objects.filter(pk__in=[entry["id"] for entry in run.errors]).values_list("pk", "number"))
        return format_html_join(
            mark_safe("<br>"),
            "order {} (id {}): {}",
            ((numbers.get(entry["id"], "?"), entry["id"], entry["error"]) for entry in run.errors),
        )


@admin.register(JobItemFailure)
class JobItemFailureAdmin(ReadOnlyAdmin):
    """Orders a job keeps failing on; delete a row to dismiss it once the order is dealt with."""

    deletable = True

    list_display = ["job_name", "order_link", "failures", "repeated", "short_error", "first_failed_at",
                    "last_failed_at", "last_run"]  # fmt: skip
    list_filter = ["job_name", ("last_failed_at", admin.DateFieldListFilter)]
    list_select_related = ["order", "last_run"]
    search_fields = ["order__number", "last_error"]
    readonly_fields = ["job_name", "order_link", "failures", "last_error", "last_run", "first_failed_at",
                       "last_failed_at"]  # fmt: skip
    exclude = ["order"]

    @admin.display(description="order", ordering="order__number")
    def order_link(self, failure: JobItemFailure) -> str:
        return admin_link(failure.order, failure.order.number)

    @admin.display(description=f"≥ {REPEATED_FAILURE_THRESHOLD} failures", boolean=True)
    def repeated(self, failure: JobItemFailure) -> bool:
        return failure.is_repeated

    @admin.display(description="last error")
    def short_error(self, failure: JobItemFailure) -> str:
        return Truncator(failure.last_error).chars(100)
