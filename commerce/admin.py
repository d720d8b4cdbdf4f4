from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, admin_link
from commerce.admin_site import DashboardLink
from commerce.jobs import item_labels
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


@admin.register(Store)
class StoreAdmin(ModelAdmin):
    list_display = [
        "code",
        "name",
        "currency",
        "paper_size",
        "is_default",
        "inventory_system",
        "payment_system",
        "partial_release",
        "batch_size",
    ]
    list_filter = ["inventory_system", "payment_system"]


@admin.register(Currency)
class CurrencyAdmin(ModelAdmin):
    list_display = ["code", "name", "minor_units"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ModelAdmin):
    list_display = ["from_currency", "to_currency", "rate", "updated_at"]


@admin.register(Organization)
class OrganizationAdmin(ModelAdmin):
    """Buyer organizations; the payments app adds what their credit line has used and left."""

    list_display = [
        "code",
        "name",
        "approval_threshold",
        "approval_currency",
        "credit_limit",
        "credit_currency",
        "credit_hold",
    ]
    list_filter = ["credit_hold"]
    filter_horizontal = ["approvers"]
    credit_fields = [("credit_limit", "credit_currency"), "credit_hold"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["code", "name"]}),
            ("Order approval", {"fields": [("approval_threshold", "approval_currency"), "approvers"]}),
            ("Credit line (bill-me and purchase-order payments)", {"fields": self.credit_fields}),
        ]


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
    list_display = [
        "__str__",
        "name",
        "status",
        "started_at",
        "took",
        "processed",
        "succeeded",
        "failed",
        "skipped",
        "dry_run",
        "scope",
        "worker",
    ]
    list_filter = ["name", "status", "dry_run", ("started_at", admin.DateFieldListFilter)]
    date_hierarchy = "started_at"
    search_fields = ["name", "worker"]
    readonly_fields = [
        "name",
        "status",
        "dry_run",
        "scope",
        "worker",
        "started_at",
        "finished_at",
        "took",
        "processed",
        "succeeded",
        "failed",
        "skipped",
        "error_list",
    ]
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
        labels = item_labels(run.item_type, [entry["id"] for entry in run.errors])
        model = run.item_type.model_class() if run.item_type is not None else None
        noun = model._meta.verbose_name if model is not None else "item"
        return format_html_join(
            mark_safe("<br>"),
            "{} {} (id {}): {}",
            ((noun, labels.get(entry["id"], "?"), entry["id"], entry["error"]) for entry in run.errors),
        )


@admin.register(JobItemFailure)
class JobItemFailureAdmin(ReadOnlyAdmin):
    """Items (orders) a job keeps failing on; delete a row to dismiss it once the item is dealt with."""

    deletable = True

    list_display = [
        "job_name",
        "item_link",
        "failures",
        "repeated",
        "short_error",
        "first_failed_at",
        "last_failed_at",
        "last_run",
    ]
    list_filter = ["job_name", ("last_failed_at", admin.DateFieldListFilter)]
    list_select_related = ["content_type", "last_run"]
    search_fields = ["item_label", "last_error"]
    readonly_fields = [
        "job_name",
        "item_link",
        "failures",
        "last_error",
        "last_run",
        "first_failed_at",
        "last_failed_at",
    ]
    exclude = ["content_type", "object_id", "item_label"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("item")

    @admin.display(description="item")
    def item_link(self, failure: JobItemFailure) -> str:
        if failure.item is None:
            return f"{failure.content_type.name} {failure.item_label or failure.object_id} (gone)"
        return admin_link(failure.item, str(failure.item))

    @admin.display(description=f"≥ {REPEATED_FAILURE_THRESHOLD} failures", boolean=True)
    def repeated(self, failure: JobItemFailure) -> bool:
        return failure.is_repeated

    @admin.display(description="last error")
    def short_error(self, failure: JobItemFailure) -> str:
        return Truncator(failure.last_error).chars(100)


admin.site.register_dashboard_links(
    [
        DashboardLink("Job runs", "admin:commerce_jobrun_changelist", "commerce.view_jobrun"),
        DashboardLink("Failing job items", "admin:commerce_jobitemfailure_changelist", "commerce.view_jobitemfailure"),
        DashboardLink("Job schedules", "admin:django_q_schedule_changelist", "django_q.view_schedule"),
    ],
    position=30,
)
