from django.contrib import admin

from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, ReadOnlyInline, admin_link, money
from commerce.admin_site import DashboardLink
from spending_limits.models import (
    PurchaseOrder,
    PurchaseOrderPurchase,
    PurchaseOrderRefund,
    TradingAgreement,
    TradingAgreementPurchase,
    TradingAgreementRefund,
)
from spending_limits.selectors import holder_remaining

LEDGER_FIELDS = ["order", "order_item", "amount", "currency", "order_amount", "order_currency", "exchange_rate"]


# Ledgers are append-only: the services write them, nobody edits or deletes a row.


class LedgerInline(ReadOnlyInline):
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "order_item", "currency", "order_currency")


class TradingAgreementPurchaseInline(LedgerInline):
    model = TradingAgreementPurchase
    fields = readonly_fields = ["created_at", *LEDGER_FIELDS]


class TradingAgreementRefundInline(LedgerInline):
    model = TradingAgreementRefund
    fields = readonly_fields = ["created_at", *LEDGER_FIELDS, "reason"]


class PurchaseOrderPurchaseInline(LedgerInline):
    model = PurchaseOrderPurchase
    fields = readonly_fields = ["created_at", *LEDGER_FIELDS]


class PurchaseOrderRefundInline(LedgerInline):
    model = PurchaseOrderRefund
    fields = readonly_fields = ["created_at", *LEDGER_FIELDS, "reason"]


class LimitHolderAdmin(ModelAdmin):
    """Shared by agreements and purchase orders: remaining balance in the list, currency fixed once charged."""

    list_select_related = ["organization", "currency"]
    search_fields = ["number", "organization__code", "organization__name"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_balances()

    @admin.display(description="Remaining")
    def remaining(self, obj) -> str:
        remaining = holder_remaining(obj)
        return "unlimited" if remaining is None else money(remaining, obj.currency)

    @admin.display(description="limit", ordering="limit_amount")
    def limit(self, obj) -> str:
        return "unlimited" if obj.limit_amount is None else money(obj.limit_amount, obj.currency)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.purchases.exists():
            # Ledger rows are in this currency; changing it would make the balance meaningless.
            readonly.append("currency")
        return readonly


@admin.register(TradingAgreement)
class TradingAgreementAdmin(LimitHolderAdmin):
    list_display = [
        "number",
        "name",
        "organization",
        "state",
        "limit",
        "remaining",
        "requires_purchase_order",
        "valid_from",
        "valid_until",
    ]
    list_filter = ["state", "requires_purchase_order", "currency"]
    search_fields = [*LimitHolderAdmin.search_fields, "name"]
    inlines = [TradingAgreementPurchaseInline, TradingAgreementRefundInline]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(LimitHolderAdmin):
    list_display = ["number", "organization", "type", "state", "limit", "remaining", "created_at"]
    list_filter = ["type", "state", "currency"]
    inlines = [PurchaseOrderPurchaseInline, PurchaseOrderRefundInline]


class LedgerAdmin(ReadOnlyAdmin):
    """A ledger's rows: amounts in their currency's minor unit, each linked to its order."""

    date_hierarchy = "created_at"
    list_filter = ["currency"]
    list_per_page = 100

    def get_list_display(self, request):
        return [self.holder_field, *self.list_columns]

    def get_list_select_related(self, request):
        return [self.holder_field, "order", "order_item", "currency", "order_currency"]

    def get_search_fields(self, request):
        return [f"{self.holder_field}__number", "order__number", "order_item__sku"]

    def get_readonly_fields(self, request, obj=None):
        return ["order_link", "amount_display", "order_amount_display"] + [
            field.name for field in self.model._meta.fields
        ]

    def get_fields(self, request, obj=None):
        hidden = {"order", "amount", "currency", "order_amount", "order_currency"}
        names = [field.name for field in self.model._meta.fields if field.name not in hidden and field.name != "id"]
        return ["order_link", "amount_display", "order_amount_display", *names]

    @admin.display(description="order", ordering="order__number")
    def order_link(self, row) -> str:
        return admin_link(row.order, row.order.number)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, row) -> str:
        return money(row.amount, row.currency)

    @admin.display(description="in order currency", ordering="order_amount")
    def order_amount_display(self, row) -> str:
        return money(row.order_amount, row.order_currency)


LEDGER_COLUMNS = ["order_link", "order_item", "amount_display", "order_amount_display"]


@admin.register(TradingAgreementPurchase)
class TradingAgreementPurchaseAdmin(LedgerAdmin):
    holder_field = "trading_agreement"
    list_columns = [*LEDGER_COLUMNS, "exchange_rate", "created_at"]


@admin.register(TradingAgreementRefund)
class TradingAgreementRefundAdmin(LedgerAdmin):
    holder_field = "trading_agreement"
    list_columns = [*LEDGER_COLUMNS, "reason", "created_at"]


@admin.register(PurchaseOrderPurchase)
class PurchaseOrderPurchaseAdmin(LedgerAdmin):
    holder_field = "purchase_order"
    list_columns = [*LEDGER_COLUMNS, "exchange_rate", "created_at"]


@admin.register(PurchaseOrderRefund)
class PurchaseOrderRefundAdmin(LedgerAdmin):
    holder_field = "purchase_order"
    list_columns = [*LEDGER_COLUMNS, "reason", "created_at"]


# The order page's view of the ledgers: what the order was charged and credited, per agreement or PO.


class OrderLedgerInline(ReadOnlyInline):
    fk_name = "order"
    holder_field = ""
    fields = ["holder", "order_item", "charged", "order_amount_display", "exchange_rate", "created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(self.holder_field, "order_item", "currency", "order_currency")
            .order_by("created_at", "pk")
        )

    @admin.display(description="agreement or PO")
    def holder(self, row) -> str:
        holder = getattr(row, self.holder_field)
        return admin_link(holder, holder.number)

    @admin.display(description="amount")
    def charged(self, row) -> str:
        return money(row.amount, row.currency)

    @admin.display(description="in order currency")
    def order_amount_display(self, row) -> str:
        return money(row.order_amount, row.order_currency)


class OrderTradingAgreementPurchaseInline(OrderLedgerInline):
    model = TradingAgreementPurchase
    holder_field = "trading_agreement"
    verbose_name_plural = "trading agreement charges"


class OrderTradingAgreementRefundInline(OrderLedgerInline):
    model = TradingAgreementRefund
    holder_field = "trading_agreement"
    fields = [*OrderLedgerInline.fields, "reason"]
    verbose_name_plural = "trading agreement credits"


class OrderPurchaseOrderPurchaseInline(OrderLedgerInline):
    model = PurchaseOrderPurchase
    holder_field = "purchase_order"
    verbose_name_plural = "purchase order charges"


class OrderPurchaseOrderRefundInline(OrderLedgerInline):
    model = PurchaseOrderRefund
    holder_field = "purchase_order"
    fields = [*OrderLedgerInline.fields, "reason"]
    verbose_name_plural = "purchase order credits"


ORDER_LEDGER_INLINES = [
    OrderTradingAgreementPurchaseInline,
    OrderTradingAgreementRefundInline,
    OrderPurchaseOrderPurchaseInline,
    OrderPurchaseOrderRefundInline,
]


admin.site.register_dashboard_links(
    [
        DashboardLink(
            "Trading agreements (remaining)",
            "admin:spending_limits_tradingagreement_changelist",
            "spending_limits.view_tradingagreement",
        ),
        DashboardLink(
            "Purchase orders (remaining)",
            "admin:spending_limits_purchaseorder_changelist",
            "spending_limits.view_purchaseorder",
        ),
    ],
    position=40,
)
