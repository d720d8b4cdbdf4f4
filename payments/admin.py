from django.contrib import admin
from django.db.models import Prefetch
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from commerce.admin import OrganizationAdmin
from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, ReadOnlyInline, admin_link, money
from commerce.models import Organization
from payments.credit_line import organization_credit_line
from payments.models import AcceptPolicy, Payment, PaymentTransaction, SimulatedAuthorization

# Money records change through the services only: the admin shows them.


class PaymentTransactionInline(ReadOnlyInline):
    model = PaymentTransaction
    fields = [
        "created_at",
        "kind",
        "outcome",
        "amount",
        "currency",
        "reference",
        "idempotency_key",
        "applied",
        "replayed",
        "latency_ms",
        "error",
        "note",
    ]
    readonly_fields = fields
    ordering = ["created_at", "pk"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "order",
        "method",
        "status",
        "amount",
        "currency",
        "approved_amount",
        "captured_amount",
        "refunded_amount",
        "expires_at",
        "is_current",
        "created_at",
    ]
    list_filter = ["status", "method", "is_current", "gateway"]
    list_select_related = ["order", "currency"]
    search_fields = ["order__number", "authorization_reference", "key"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Payment._meta.fields]
    inlines = [PaymentTransactionInline]


@admin.register(AcceptPolicy)
class AcceptPolicyAdmin(ModelAdmin):
    list_display = ["store", "method", "accepted", "needs_approval", "review_threshold"]
    list_filter = ["method", "accepted", "needs_approval"]
    list_select_related = ["store"]


@admin.register(SimulatedAuthorization)
class SimulatedAuthorizationAdmin(ReadOnlyAdmin):
    """The simulated gateway's side of the story, for demos."""

    list_display = ["reference", "token", "state", "amount", "currency", "captured_amount", "refunded_amount"]
    list_filter = ["state", "token"]
    search_fields = ["reference"]
    readonly_fields = [field.name for field in SimulatedAuthorization._meta.fields]


class OrderPaymentInline(ReadOnlyInline):
    """An order's payments and each one's gateway calls, for the order page."""

    model = Payment
    fk_name = "order"
    fields = [
        "link",
        "method",
        "status",
        "amount_display",
        "approved",
        "captured",
        "refunded",
        "expires_at",
        "is_current",
        "gateway_calls",
    ]
    verbose_name_plural = "payments and gateway transactions"

    def get_queryset(self, request):
        calls = PaymentTransaction.objects.order_by("created_at", "pk")
        return (
            super()
            .get_queryset(request)
            .select_related("currency")
            .prefetch_related(Prefetch("transactions", queryset=calls))
            .order_by("created_at", "pk")
        )

    @admin.display(description="payment")
    def link(self, payment: Payment) -> str:
        return admin_link(payment, f"Payment {payment.pk}")

    @admin.display(description="amount")
    def amount_display(self, payment: Payment) -> str:
        return money(payment.amount, payment.currency)

    @admin.display(description="approved")
    def approved(self, payment: Payment) -> str:
        return money(payment.approved_amount, payment.currency)

    @admin.display(description="captured")
    def captured(self, payment: Payment) -> str:
        return money(payment.captured_amount, payment.currency)

    @admin.display(description="refunded")
    def refunded(self, payment: Payment) -> str:
        return money(payment.refunded_amount, payment.currency)

    @admin.display(description="gateway transactions")
    def gateway_calls(self, payment: Payment) -> str:
        calls = payment.transactions.all()
        if not calls:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "{} {} <strong>{}</strong> {} {}",
            (
                (
                    f"{call.created_at:%Y-%m-%d %H:%M}",
                    call.get_kind_display(),
                    call.get_outcome_display(),
                    money(call.amount, payment.currency) if call.amount is not None else "",
                    call.error or call.reference,
                )
                for call in calls
            ),
        )


class OrganizationCreditAdmin(OrganizationAdmin):
    """The kernel's organization page, with what the credit line has used and has left."""

    readonly_fields = ["credit_used", "credit_left"]
    credit_fields = [*OrganizationAdmin.credit_fields, ("credit_used", "credit_left")]

    def _credit_line(self, organization):
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


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationCreditAdmin)
