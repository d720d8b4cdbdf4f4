"""Admin of returns: the RMA list and page with approve, deny, receive and credit; the order page's returns;
the return queue panel of the dashboard.

Every button calls one service of ``orders.returns``; the admin checks the permission (again on the
server), collects the per-item input, and shows the service's answer.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from commerce.admin_base import ReadOnlyAdmin, ReadOnlyInline, admin_link, money
from commerce.errors import ApplicationError
from fulfillment.models import FulfillmentCenter
from orders.returns import selectors, services
from orders.returns.crediting import return_request_credit
from orders.returns.models import Disposition, ReturnEvent, ReturnItem, ReturnRequest, ReturnStatus
from payments.models import PaymentTransaction
from spending_limits.models import PurchaseOrderRefund, TradingAgreementRefund

R = ReturnStatus


def _badge(rma: ReturnRequest) -> str:
    return format_html(
        '<span class="return-status return-status-{}">{} · {}</span>', rma.status, rma.status, rma.get_status_display()
    )


# Forms: one row of fields per item.


class ApproveForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def __init__(self, *args, rma: ReturnRequest, items: list[ReturnItem], **kwargs):
        super().__init__(*args, **kwargs)
        for item in items:
            self.fields[f"approve_{item.pk}"] = forms.BooleanField(
                required=False, initial=item.status != "DNY", label="approve"
            )
            self.fields[f"reason_{item.pk}"] = forms.CharField(required=False, label="deny reason", max_length=500)
            self.fields[f"receipt_{item.pk}"] = forms.BooleanField(
                required=False, initial=item.receipt_required, label="wait for the goods"
            )

    def overrides(self, items: list[ReturnItem]) -> list[services.ApprovalOverride]:
        return [
            services.ApprovalOverride(
                sku=item.order_item.sku,
                approve=self.cleaned_data[f"approve_{item.pk}"],
                reason=self.cleaned_data[f"reason_{item.pk}"],
                receipt_required=self.cleaned_data[f"receipt_{item.pk}"],
            )
            for item in items
        ]


class DenyForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Sent to the customer.")

    def __init__(self, *args, rma=None, items=None, **kwargs):
        super().__init__(*args, **kwargs)


class ReceiveForm(forms.Form):
    def __init__(self, *args, rma: ReturnRequest, items: list[ReturnItem], **kwargs):
        super().__init__(*args, **kwargs)
        centers = FulfillmentCenter.objects.filter(active=True).order_by("priority", "code")
        for item in items:
            left = item.quantity - item.quantity_received
            self.fields[f"quantity_{item.pk}"] = forms.IntegerField(min_value=0, max_value=left, initial=left)
            self.fields[f"disposition_{item.pk}"] = forms.ChoiceField(
                choices=Disposition.choices, initial=Disposition.RESTOCK
            )
            self.fields[f"center_{item.pk}"] = forms.ModelChoiceField(
                queryset=centers, required=False, to_field_name="code", initial=centers.first()
            )

    def lines(self, items: list[ReturnItem]) -> list[services.ReceiptLineInput]:
        return [
            services.ReceiptLineInput(
                sku=item.order_item.sku,
                quantity=self.cleaned_data[f"quantity_{item.pk}"],
                disposition=self.cleaned_data[f"disposition_{item.pk}"],
                fulfillment_center=self.cleaned_data[f"center_{item.pk}"],
            )
            for item in items
            if self.cleaned_data[f"quantity_{item.pk}"]
        ]


class CreditForm(forms.Form):
    def __init__(self, *args, rma=None, items=None, **kwargs):
        super().__init__(*args, **kwargs)


@dataclass(frozen=True)
class ReturnAction:
    name: str
    label: str
    permission: str
    is_available: Callable[[ReturnRequest], bool]
    form: type[forms.Form]
    item_fields: tuple[str, ...] = ()
    danger: bool = False
    explanation: str = ""

    @property
    def perm(self) -> str:
        return f"orders.{self.permission}"

    def items(self, rma: ReturnRequest) -> list[ReturnItem]:
        items = list(rma.items.select_related("order_item").order_by("pk"))
        if self.name == "receive":
            return [item for item in items if item.is_approved and item.quantity_received < item.quantity]
        return items

    def perform(self, request, rma: ReturnRequest, form: forms.Form, items: list[ReturnItem]) -> None:
        user = request.user
        if self.name == "approve":
            services.return_request_approve(
                return_request=rma,
                overrides=form.overrides(items),
                reason=form.cleaned_data["reason"],
                acting_user=user,
            )
        elif self.name == "deny":
            services.return_request_deny(return_request=rma, reason=form.cleaned_data["reason"], acting_user=user)
        elif self.name == "receive":
            services.return_request_receive(return_request=rma, lines=form.lines(items), acting_user=user)
        else:
            return_request_credit(return_request=rma, acting_user=user, partial=True)


RETURN_ACTIONS = {
    action.name: action
    for action in [
        ReturnAction(
            "approve",
            "Approve",
            "approve_returnrequest",
            lambda rma: rma.status == R.PENDING,
            ApproveForm,
            ("approve", "reason", "receipt"),
            explanation="Approve the items ticked, overriding their deny reasons; untick an item to deny it "
            "(say why). Untick “wait for the goods” to credit an item without receipt.",
        ),
        ReturnAction(
            "deny",
            "Deny",
            "approve_returnrequest",
            lambda rma: rma.status in (R.PENDING, R.APPROVED) and not rma.is_locked,
            DenyForm,
            danger=True,
            explanation="Every item is denied and the return cancelled; the customer is told why.",
        ),
        ReturnAction(
            "receive",
            "Receive goods",
            "receive_returnrequest",
            lambda rma: rma.status == R.APPROVED,
            ReceiveForm,
            ("quantity", "disposition", "center"),
            explanation="Record what came back. Restocked goods raise the center's on-hand at once; "
            "scrapped goods do not.",
        ),
        ReturnAction(
            "credit",
            "Credit and close",
            "credit_returnrequest",
            lambda rma: rma.status == R.APPROVED,
            CreditForm,
            explanation="Credit what was received (and the items needing no receipt): refund the captured "
            "payment or reduce the deposit, give back the spending limits, close the return.",
        ),
    ]
}


# The page's inlines and read-only panels.


class ReturnItemInline(ReadOnlyInline):
    model = ReturnItem
    fields = [
        "sku",
        "quantity",
        "reason",
        "status",
        "deny_reason_list",
        "receipt_required",
        "quantity_received",
        "quantity_restocked",
        "disposition",
        "fulfillment_center",
        "credit",
    ]
    view_permission = "orders.view_returnrequest"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("order_item", "fulfillment_center", "return_request__order__currency")
        )

    @admin.display(description="SKU")
    def sku(self, item: ReturnItem) -> str:
        return item.order_item.sku

    @admin.display(description="deny reasons")
    def deny_reason_list(self, item: ReturnItem) -> str:
        if not item.deny_reasons:
            return "-"
        return format_html_join(mark_safe("<br>"), "{}", ((reason,) for reason in item.deny_reasons))

    @admin.display(description="credit")
    def credit(self, item: ReturnItem) -> str:
        return money(item.credit_amount, item.return_request.order.currency)


class ReturnEventInline(ReadOnlyInline):
    model = ReturnEvent
    fields = ["created_at", "from_status", "to_status", "actor_name", "message", "reason"]
    verbose_name_plural = "history"
    view_permission = "orders.view_returnrequest"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("created_at", "pk")


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReadOnlyAdmin):
    list_display = ["number", "created_at", "status_badge", "order_link", "customer", "items_summary", "credit"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["order__customer__user", "order__currency"]
    search_fields = [
        "number",
        "order__number",
        "order__customer__user__username",
        "order__customer__user__email",
        "items__order_item__sku",
    ]
    search_help_text = "RMA or order number, customer user name or e-mail, or SKU."
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": [("number", "status_badge"), ("order_link", "customer"), "comment", "status_reason"]}),
        ("Dates", {"fields": [("created_at", "approved_at", "received_at"), ("credited_at", "cancelled_at")]}),
        ("Credit", {"fields": [("credit", "refunded", "deposit_reduced"), "refund_transactions", "ledger_rows"]}),
    ]
    readonly_fields = [
        "number",
        "status_badge",
        "order_link",
        "customer",
        "comment",
        "status_reason",
        "created_at",
        "approved_at",
        "received_at",
        "credited_at",
        "cancelled_at",
        "credit",
        "refunded",
        "deposit_reduced",
        "refund_transactions",
        "ledger_rows",
    ]
    inlines = [ReturnItemInline, ReturnEventInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items__order_item")

    @admin.display(description="status", ordering="status")
    def status_badge(self, rma: ReturnRequest) -> str:
        return _badge(rma)

    @admin.display(description="order", ordering="order__number")
    def order_link(self, rma: ReturnRequest) -> str:
        return admin_link(rma.order, rma.order.number)

    @admin.display(description="customer", ordering="order__customer__number")
    def customer(self, rma: ReturnRequest) -> str:
        return f"{rma.order.customer.number} ({rma.order.customer.user.get_username()})"

    @admin.display(description="items")
    def items_summary(self, rma: ReturnRequest) -> str:
        return ", ".join(f"{item.quantity} x {item.order_item.sku}" for item in rma.items.all())

    @admin.display(description="credit", ordering="credit_total")
    def credit(self, rma: ReturnRequest) -> str:
        return money(rma.credit_total, rma.order.currency)

    @admin.display(description="refunded")
    def refunded(self, rma: ReturnRequest) -> str:
        return money(rma.refunded_amount, rma.order.currency)

    @admin.display(description="deposit reduced by")
    def deposit_reduced(self, rma: ReturnRequest) -> str:
        return money(rma.deposit_reduction, rma.order.currency)

    @admin.display(description="refund transactions")
    def refund_transactions(self, rma: ReturnRequest) -> str:
        if not rma.credit_key:
            return "-"
        rows = PaymentTransaction.objects.filter(payment__order_id=rma.order_id, idempotency_key=rma.credit_key)
        return (
            format_html_join(
                mark_safe("<br>"),
                "{} {} {} {} ({}){}",
                (
                    (
                        t.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        t.kind,
                        t.outcome,
                        money(t.amount, t.currency_id),
                        t.idempotency_key,
                        " applied" if t.applied else "",
                    )
                    for t in rows.order_by("pk")
                ),
            )
            or "-"
        )

    @admin.display(description="spending-limit rows")
    def ledger_rows(self, rma: ReturnRequest) -> str:
        rows = [
            ("TRDREFAMT", row.trading_agreement.number, row)
            for row in TradingAgreementRefund.objects.filter(return_request=rma).select_related("trading_agreement")
        ] + [
            ("PO refund", row.purchase_order.number, row)
            for row in PurchaseOrderRefund.objects.filter(return_request=rma).select_related("purchase_order")
        ]
        if not rows:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "{} {}: {} (from {} at rate {})",
            (
                (
                    kind,
                    number,
                    money(row.amount, row.currency_id),
                    money(row.order_amount, row.order_currency_id),
                    row.exchange_rate.normalize(),
                )
                for kind, number, row in rows
            ),
        )

    # Buttons and their pages.

    def available_actions(self, request, rma: ReturnRequest) -> list[dict]:
        return [
            {"action": action, "url": reverse("admin:orders_returnrequest_action", args=[rma.pk, action.name])}
            for action in RETURN_ACTIONS.values()
            if request.user.has_perm(action.perm) and action.is_available(rma)
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["return_actions"] = self.available_actions(request, obj)
            context["return_badge"] = _badge(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/action/<str:action_name>/", view(self.action_view), name="orders_returnrequest_action"
            ),
        ] + super().get_urls()

    def action_view(self, request, object_id: int, action_name: str):
        action = RETURN_ACTIONS.get(action_name)
        if action is None:
            raise Http404(f"No return action {action_name}.")
        if not request.user.has_perm(action.perm):
            raise PermissionDenied
        rma = get_object_or_404(self.get_queryset(request).select_related("order__currency"), pk=object_id)
        change_url = reverse("admin:orders_returnrequest_change", args=[rma.pk])
        if not action.is_available(rma):
            self.message_user(
                request,
                f"Return {rma.number} is {rma.get_status_display().lower()}: “{action.label}” is not possible now.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        items = action.items(rma)
        form = action.form(request.POST if request.method == "POST" else None, rma=rma, items=items)
        if request.method == "POST" and form.is_valid():
            try:
                action.perform(request, rma, form, items)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                now = ReturnRequest.objects.get(pk=rma.pk)
                self.message_user(
                    request, f"{action.label}: return {rma.number} is now {now.get_status_display().lower()}."
                )
            return HttpResponseRedirect(change_url)
        rows = [{"item": item, "fields": [form[f"{name}_{item.pk}"] for name in action.item_fields]} for item in items]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": rma,
            "title": f"{action.label}: {rma.number}",
            "action": action,
            "form": form,
            "rows": rows,
            "headers": [form[f"{name}_{items[0].pk}"].label for name in action.item_fields] if items else [],
            "return_badge": _badge(rma),
            "credit": money(rma.credit_total, rma.order.currency),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/orders/returnrequest/action.html", context)


class OrderReturnInline(ReadOnlyInline):
    """The returns of an order, on the order page."""

    model = ReturnRequest
    fk_name = "order"
    fields = ["link", "status", "created_at", "items_summary", "credit", "credited_at"]
    verbose_name_plural = "returns (RMA)"
    view_permission = "orders.view_returnrequest"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order__currency").prefetch_related("items__order_item")

    @admin.display(description="RMA")
    def link(self, rma: ReturnRequest) -> str:
        return admin_link(rma, rma.number)

    @admin.display(description="items")
    def items_summary(self, rma: ReturnRequest) -> str:
        return ", ".join(f"{item.quantity} x {item.order_item.sku} ({item.status})" for item in rma.items.all())

    @admin.display(description="credit")
    def credit(self, rma: ReturnRequest) -> str:
        return money(rma.credit_total, rma.order.currency)


# The dashboard's return queue: a panel of its own, shown by templates/admin/orders/returnrequest/queue_panel.html.


def return_queue_panel(request) -> dict | None:
    """What the dashboard's return queue shows this user, or None when they may not see returns."""
    if not request.user.has_perm("orders.view_returnrequest"):
        return None
    try:
        changelist = reverse("admin:orders_returnrequest_changelist")
    except NoReverseMatch:
        return None
    counts = selectors.return_queue_counts()
    return {
        "url": changelist,
        "total": counts["pending"] + counts["approved"],
        "rows": [
            {"title": "Waiting for approval", "count": counts["pending"], "url": f"{changelist}?status__exact=PND"},
            {
                "title": "Waiting for the goods",
                "count": counts["awaiting_goods"],
                "url": f"{changelist}?status__exact=APP",
            },
            {"title": "Ready to credit", "count": counts["ready"], "url": f"{changelist}?status__exact=APP"},
        ],
    }
