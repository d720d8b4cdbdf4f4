"""Admin of orders: the list and the order page, transition buttons and bulk actions, the queues, the dashboard.

Every button and bulk action calls a service of ``orders.services``; the admin only checks the user's
permission (again on the server, whatever the page showed), collects a reason where the service wants
one, and reports the service's answer. The order itself is read-only here except for its notes.
"""

import functools

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from commerce.admin_base import ModelAdmin, ReadOnlyInline, message_outcomes, money, run_per_object
from commerce.errors import ApplicationError
from fulfillment.admin import OrderReleaseInline
from fulfillment.models import Allocation
from orders import admin_views, dashboard
from orders.admin_actions import ORDER_ACTIONS, REASON_NONE, ReasonForm
from orders.admin_on_behalf import place_on_behalf_view
from orders.admin_shipping import PACK_PERMISSION, order_ships_from_the_order
from orders.exceptions import exceptions_queue
from orders.models import Order, OrderEvent, OrderItem, OrderStatus, Promotion
from orders.returns.admin import OrderReturnInline
from orders.selectors import order_deposits, orders_in_payment_review_after_release, status_counts
from payments.admin import OrderPaymentInline
from payments.payment_systems import payment_system_for
from spending_limits.admin import ORDER_LEDGER_INLINES

S = OrderStatus

# Fields of an order a person may edit; everything else changes through the services.
EDITABLE_FIELDS = ("shipping_note", "invoice_note")

# The order page's inlines.


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = [
        "sku",
        "name",
        "quantity",
        "unit_price_display",
        "status",
        "inventory_status",
        "estimated_available_at",
        "quantity_shipped",
        "amount",
        "allocation_list",
    ]
    verbose_name_plural = "items and their allocations"

    def get_queryset(self, request):
        allocations = Allocation.objects.select_related("fulfillment_center", "receipt_line__receipt").order_by("pk")
        return (
            super()
            .get_queryset(request)
            .select_related("order__currency")
            .prefetch_related(Prefetch("allocations", queryset=allocations))
        )

    @admin.display(description="unit price")
    def unit_price_display(self, item: OrderItem) -> str:
        return money(item.unit_price, item.order.currency)

    @admin.display(description="purchase amount")
    def amount(self, item: OrderItem) -> str:
        return money(item.purchase_amount, item.order.currency)

    @admin.display(description="allocations")
    def allocation_list(self, item: OrderItem) -> str:
        allocations = item.allocations.all()
        if not allocations:
            return "-"
        rows = ((a.quantity, a.fulfillment_center.code, _allocation_source(a)) for a in allocations)
        return format_html_join(mark_safe("<br>"), "{} at {} {}", rows)


def _allocation_source(allocation: Allocation) -> str:
    if allocation.kind == Allocation.Kind.STOCK:
        source = "from stock"
    else:
        receipt = allocation.receipt_line.receipt
        source = f"promised on {receipt.number}, due {receipt.expected_at:%Y-%m-%d}"
    if allocation.expires_at:
        source += f", held until {allocation.expires_at:%Y-%m-%d %H:%M}"
    return f"({source})"


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "actor_display", "message", "reason"]
    verbose_name_plural = "history"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("created_at", "pk")

    @admin.display(description="by")
    def actor_display(self, event: OrderEvent) -> str:
        # A job or another part of the system acted without a user: say so, so it never reads as a person.
        if event.actor_id is None:
            return format_html('<span class="system-actor" title="Run by the system, not a person">⚙ job {}</span>',
                               event.actor_name or "system")  # fmt: skip
        return format_html('<span class="staff-actor">{}</span>', event.actor_name)


# The list.


class BuyerFilter(admin.SimpleListFilter):
    title = "buyer"
    parameter_name = "buyer"

    def lookups(self, request, model_admin):
        return [("consumer", "Consumers"), ("business", "B2B organizations")]

    def queryset(self, request, queryset):
        if self.value() == "consumer":
            return queryset.filter(organization__isnull=True)
        if self.value() == "business":
            return queryset.filter(organization__isnull=False)
        return queryset


def _status_badge(code: str, label: str) -> str:
    return format_html('<span class="order-status order-status-{}" title="{}">{} · {}</span>', code, label, code, label)


@admin.register(Order)
class OrderAdmin(ModelAdmin):
    list_display = ["number", "placed", "status_badge", "customer_link", "payment", "total"]
    list_filter = [
        "status",
        admin_views.PlacedBetweenFilter,
        ("placed_at", admin.DateFieldListFilter),
        "store",
        BuyerFilter,
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["store", "customer__user", "organization", "currency"]
    search_fields = ["number", "customer__number", "customer__user__username", "customer__user__email",
                     "customer__user__first_name", "customer__user__last_name", "items__sku",
                     "releases__packages__tracking_number", "returns__number"]  # fmt: skip
    search_help_text = "Order number, customer number, name or e-mail, SKU, tracking number or RMA number."
    date_hierarchy = "placed_at"
    list_per_page = 50
    actions = [
        "approve_selected",
        "reject_selected",
        "approve_payment_selected",
        "decline_payment_selected",
        "release_selected",
        "cancel_selected",
        "export_csv_selected",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("number", "status_badge"),
                    ("store", "customer_link", "organization"),
                    "flow_variant",
                    "placed_by",
                    "status_reason",
                ]
            },
        ),
        (
            "Dates",
            {"fields": [("placed_at", "approved_at", "released_at"), ("shipped_at", "deposited_at", "cancelled_at")]},
        ),
        ("Totals", {"fields": ["totals", ("promotion", "coupon_code"), "deposits"]}),
        ("Shipping", {"fields": ["ship_mode", "ship_to", ("purchase_order_number", "purchase_order")]}),
        ("Notes", {"fields": list(EDITABLE_FIELDS)}),
    ]
    inlines = [
        OrderItemInline,
        OrderPaymentInline,
        OrderReleaseInline,
        OrderReturnInline,
        *ORDER_LEDGER_INLINES,
        OrderEventInline,
    ]

    # Permissions: orders are placed through the API and changed through the services.

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_approve_order_permission(self, request) -> bool:
        return request.user.has_perm("orders.approve_order")

    def has_review_payment_permission(self, request) -> bool:
        return request.user.has_perm("orders.review_payment")

    def has_release_order_permission(self, request) -> bool:
        return request.user.has_perm("orders.release_order")

    def has_cancel_order_permission(self, request) -> bool:
        return request.user.has_perm("orders.cancel_order")

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and obj.organization_id is None:
            # Spending limits are B2B only: a consumer's order has no ledger rows to show.
            inlines = [inline for inline in inlines if type(inline) not in ORDER_LEDGER_INLINES]
        return inlines

    def get_readonly_fields(self, request, obj=None):
        shown = ["status_badge", "customer_link", "totals", "ship_to", "flow_variant", "deposits"]
        return shown + [field.name for field in Order._meta.fields if field.name not in EDITABLE_FIELDS]

    def lookup_allowed(self, lookup, value, request=None):
        # The customer column links to that customer's orders.
        return lookup == "customer__id__exact" or super().lookup_allowed(lookup, value, request)

    def save_model(self, request, obj, form, change):
        # Only the notes are editable; saving just them never overwrites what a service changed meanwhile.
        changed = [name for name in form.changed_data if name in EDITABLE_FIELDS]
        if changed:
            obj.save(update_fields=[*changed, "updated_at"])

    # Columns and fields.

    @admin.display(description="status", ordering="status")
    def status_badge(self, order: Order) -> str:
        return _status_badge(order.status, order.get_status_display())

    @admin.display(description="placed", ordering="placed_at")
    def placed(self, order: Order) -> str:
        if order.placed_at is None:
            return "-"
        return format_html('<span class="nowrap">{}</span>', f"{timezone.localtime(order.placed_at):%Y-%m-%d %H:%M}")

    @admin.display(description="customer", ordering="customer__user__last_name")
    def customer_link(self, order: Order) -> str:
        url = reverse("admin:orders_order_changelist") + f"?customer__id__exact={order.customer_id}"
        user = order.customer.user
        organization = format_html(" · {}", order.organization.code) if order.organization_id else ""
        return format_html(
            '<a href="{}" title="Orders of customer {}">{}</a>{}<br><span class="help customer-email">{}</span>',
            url,
            order.customer.number,
            user.get_full_name() or user.get_username(),
            organization,
            user.email,
        )

    @admin.display(description="payment")
    def payment(self, order: Order) -> str:
        if not hasattr(order, "payment_status"):
            return "-"
        return admin_views.payment_label(order.payment_status)

    @admin.display(description="grand total", ordering="grand_total")
    def total(self, order: Order) -> str:
        return money(order.grand_total, order.currency)

    @admin.display(description="totals")
    def totals(self, order: Order) -> str:
        rows = [
            ("Products", order.product_total),
            ("Tax", order.tax_total),
            ("Shipping", order.shipping_total),
            ("Shipping tax", order.shipping_tax_total),
            ("Adjustment", -order.adjustment_total),
        ]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td class='money'>{}</td></tr>",
            ((label, money(amount, order.currency)) for label, amount in rows),
        )
        grand_total = money(order.grand_total, order.currency)
        grand = format_html('<tr class="grand"><th>Grand total</th><th class="money">{}</th></tr>', grand_total)
        return format_html('<table class="order-totals">{}{}</table>', body, grand)

    @admin.display(description="flow variant")
    def flow_variant(self, order: Order) -> str:
        store = order.store
        rules = ", ".join(f"{method}: {rule}" for method, rule in sorted((store.payment_rules or {}).items()))
        payment = (
            f"{store.payment_system} ({rules})"
            if rules and store.payment_system == "payment_rules"
            else (store.payment_system)
        )
        return f"inventory {store.inventory_system} · payments {payment}"

    @admin.display(description="deposits per release")
    def deposits(self, order: Order) -> str:
        if not payment_system_for(order.store).deposits_per_release:
            return "The whole order, once shipped (balance_payment)."
        rows = order_deposits(order=order)
        if not rows:
            return "—"
        return format_html_join(
            mark_safe("<br>"), "{} · {} · {}", ((row["what"], row["when"], row["amount"]) for row in rows)
        )

    @admin.display(description="ship to")
    def ship_to(self, order: Order) -> str:
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in order.ship_to_lines))

    # The list: counts per status on top, the payment review queue as a filtered list.

    def changelist_view(self, request, extra_context=None):
        counts = status_counts()
        current = request.GET.get("status__exact", "")
        changelist_url = reverse("admin:orders_order_changelist")
        context = {
            "status_bar": [
                {
                    "code": code,
                    "label": label,
                    "count": counts[code],
                    "url": f"{changelist_url}?status__exact={code}",
                    "active": code == current,
                }
                for code, label in S.choices
            ],
            "status_total": sum(counts.values()),
            "changelist_url": changelist_url,
        }
        if current == S.PAYMENT_REVIEW:
            context["title"] = "Payment review queue"
            context["queue_help"] = (
                "Payments held for review (policy threshold or an AVS/CVV mismatch). Open an order to approve or "
                "decline it with a reason, or select several and use the actions."
            )
            context["review_after_release"] = [
                {
                    "order": order,
                    "url": reverse("admin:orders_order_change", args=[order.pk]),
                    "total": money(order.grand_total, order.currency),
                }
                for order in orders_in_payment_review_after_release()
            ]
        return super().changelist_view(request, extra_context={**context, **(extra_context or {})})

    # The order page: a header with the status and totals, and the buttons of the allowed transitions.

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("store", "customer__user", "organization", "currency")
        return admin_views.orders_with_payment_status(queryset)

    def available_actions(self, request, order: Order) -> list[dict]:
        return [
            {"action": action, "url": reverse("admin:orders_order_action", args=[order.pk, action.name])}
            for action in ORDER_ACTIONS.values()
            if request.user.has_perm(action.perm) and action.is_available(order)
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["order_actions"] = self.available_actions(request, obj)
            context["order_status_badge"] = _status_badge(obj.status, obj.get_status_display())
            context["order_grand_total"] = money(obj.grand_total, obj.currency)
            if order_ships_from_the_order(obj) and request.user.has_perm(PACK_PERMISSION):
                context["order_ship_url"] = reverse("admin:orders_order_ship", args=[obj.pk])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("<int:object_id>/action/<str:action_name>/", view(self.action_view), name="orders_order_action"),
            path("exceptions/", view(self.exceptions_view), name="orders_order_exceptions"),
            path("<int:object_id>/ship/", view(self.ship_view), name="orders_order_ship"),
            path("payment-review/", view(self.payment_review_view), name="orders_order_payment_review"),
            path("search/", view(functools.partial(admin_views.search_view, self)), name="orders_order_search"),
            path("totals/", view(functools.partial(admin_views.totals_view, self)), name="orders_order_totals"),
            path(
                "<int:object_id>/invoice.pdf",
                view(functools.partial(admin_views.invoice_view, self)),
                name="orders_order_invoice",
            ),
            path("place-for-customer/", view(self.place_on_behalf_view), name="orders_order_place_on_behalf"),
        ] + super().get_urls()

    def action_view(self, request, object_id: int, action_name: str):
        """Confirm a transition (asking for a reason where it takes one), then call its service."""
        action = ORDER_ACTIONS.get(action_name)
        if action is None:
            raise Http404(f"No order action {action_name}.")
        if not request.user.has_perm(action.perm):
            raise PermissionDenied
        order = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        form = ReasonForm(request.POST if request.method == "POST" else None, action=action)
        if form.is_valid():
            try:
                action.perform(order=order, acting_user=request.user, reason=form.cleaned_data["reason"])
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                now = Order.objects.get(pk=order.pk)
                self.message_user(
                    request, f"{action.verb} order {order.number}: it is now {now.get_status_display().lower()}."
                )
            return HttpResponseRedirect(change_url)
        if not action.is_available(order):
            self.message_user(
                request,
                f"Order {order.number} is {order.get_status_display().lower()}: “{action.label}” is not possible now.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": order,
            "title": f"{action.label}: {order.number}",
            "action": action,
            "form": form,
            "order_status_badge": _status_badge(order.status, order.get_status_display()),
            "order_grand_total": money(order.grand_total, order.currency),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/orders/order/action_confirm.html", context)

    def ship_view(self, request, object_id: int):
        from orders.admin_shipping import ship_view

        return ship_view(self, request, object_id)

    def place_on_behalf_view(self, request):
        return place_on_behalf_view(self, request)

    def payment_review_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:orders_order_changelist") + f"?status__exact={S.PAYMENT_REVIEW}")

    def exceptions_view(self, request):
        """The supervisor's queue of stuck and failing orders."""
        if not request.user.has_perm("orders.view_exceptions"):
            raise PermissionDenied
        sections = exceptions_queue()
        for section in sections:
            for row in section.rows:
                row.total = money(row.order.grand_total, row.order.currency)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Exceptions queue",
            "sections": sections,
        }
        return TemplateResponse(request, "admin/orders/order/exceptions.html", context)

    # Bulk actions: the same services, one order at a time, with counts of done and failed.

    def _run_bulk(self, request, queryset, name: str):
        action = ORDER_ACTIONS[name]
        reason = ""
        if action.reason != REASON_NONE:
            form = ReasonForm(request.POST if "apply" in request.POST else None, action=action)
            if not form.is_valid():
                context = {
                    **self.admin_site.each_context(request),
                    "opts": self.opts,
                    "title": f"{action.label}: {len(queryset)} order(s)",
                    "action": action,
                    "orders": queryset,
                    "form": form,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                }
                return TemplateResponse(request, "admin/orders/order/bulk_action.html", context)
            reason = form.cleaned_data["reason"]
        outcomes = run_per_object(
            queryset.order_by("pk"),
            lambda order: action.perform(order=order, acting_user=request.user, reason=reason),
        )
        message_outcomes(self, request, outcomes, verb=action.verb, noun="order(s)")
        return None

    @admin.action(description="Approve the selected orders awaiting approval", permissions=["approve_order"])
    def approve_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "approve")

    @admin.action(description="Reject the selected orders awaiting approval", permissions=["approve_order"])
    def reject_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "reject")

    @admin.action(description="Approve the payments of the selected orders", permissions=["review_payment"])
    def approve_payment_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "approve_payment")

    @admin.action(description="Decline the payments of the selected orders", permissions=["review_payment"])
    def decline_payment_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "decline_payment")

    @admin.action(description="Release the selected orders now", permissions=["release_order"])
    def release_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "release")

    @admin.action(description="Cancel the selected orders", permissions=["cancel_order"])
    def cancel_selected(self, request, queryset):
        return self._run_bulk(request, queryset, "cancel")

    @admin.action(description="Export the selected orders as CSV", permissions=["view"])
    def export_csv_selected(self, request, queryset):
        return admin_views.export_csv(queryset)


# The dashboard on the admin index: the order panels and links (orders/dashboard.py).
dashboard.register(admin.site)


@admin.register(Promotion)
class PromotionAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "name",
        "store",
        "kind",
        "value",
        "minimum_amount",
        "active",
        "valid_from",
        "valid_until",
        "orders_count",
    ]
    list_filter = ["store", "kind", "active"]
    list_select_related = ["store"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(orders_count=Count("orders"))

    @admin.display(description="orders", ordering="orders_count")
    def orders_count(self, promotion) -> int:
        return promotion.orders_count
