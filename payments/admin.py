from django.contrib import admin

from payments.models import AcceptPolicy, Payment, PaymentTransaction, SimulatedAuthorization


class ReadOnlyAdminMixin:
    """Money records change through the services only: the admin shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PaymentTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentTransaction
    extra = 0
    fields = [
        "created_at", "kind", "outcome", "amount", "currency", "reference", "idempotency_key",
        "applied", "replayed", "latency_ms", "error", "note",
    ]  # fmt: skip
    readonly_fields = fields
    ordering = ["created_at", "pk"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "pk", "order", "method", "status", "amount", "currency", "approved_amount", "captured_amount",
        "refunded_amount", "expires_at", "is_current", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "method", "is_current", "gateway"]
    list_select_related = ["order", "currency"]
    search_fields = ["order__number", "authorization_reference", "key"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Payment._meta.fields]
    inlines = [PaymentTransactionInline]


@admin.register(AcceptPolicy)
class AcceptPolicyAdmin(admin.ModelAdmin):
    list_display = ["store", "method", "accepted", "needs_approval", "review_threshold"]
    list_filter = ["method", "accepted", "needs_approval"]
    list_select_related = ["store"]


@admin.register(SimulatedAuthorization)
class SimulatedAuthorizationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The simulated gateway's side of the story, for demos."""

    list_display = ["reference", "token", "state", "amount", "currency", "captured_amount", "refunded_amount"]
    list_filter = ["state", "token"]
    search_fields = ["reference"]
    readonly_fields = [field.name for field in SimulatedAuthorization._meta.fields]
