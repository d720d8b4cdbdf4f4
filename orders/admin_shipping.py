"""The admin's shipping form for orders of stores without pick batches (non-ATP, DESIGN section 18).

Staff pack the order itself (one package per center, confirmed afterwards from the package page) or
record a shipment in one step (pack and confirm), as the external fulfillment API does.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from commerce.errors import ApplicationError
from fulfillment.inventory_systems import inventory_system_for
from orders import flow_variants
from orders.models import Order, OrderStatus

PACK_PERMISSION = "fulfillment.add_package"
SHIP_PERMISSION = "fulfillment.ship_package"
SHIPPABLE = (OrderStatus.AUTHORIZED, OrderStatus.SUBMITTED, OrderStatus.RELEASED)


class OrderShippingForm(forms.Form):
    carrier = forms.CharField(max_length=64)
    tracking_number = forms.CharField(max_length=64)


def order_ships_from_the_order(order: Order) -> bool:
    """An order of a store without pick batches, in a status it can be packed or shipped from."""
    return inventory_system_for(order.store).ships_without_pick_batch and order.status in SHIPPABLE


def ship_view(model_admin, request, object_id: int):
    """Pack (``pack``) or pack and confirm (``ship``) what of the order is not shipped yet."""
    if not request.user.has_perm(PACK_PERMISSION):
        raise PermissionDenied
    order = get_object_or_404(Order.objects.select_related("store", "currency", "customer__user"), pk=object_id)
    change_url = reverse("admin:orders_order_change", args=[order.pk])
    if not order_ships_from_the_order(order):
        model_admin.message_user(request, f"Order {order.number} is not shipped from this form.", messages.WARNING)
        return HttpResponseRedirect(change_url)
    form = OrderShippingForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        confirm = "ship" in request.POST
        if confirm and not request.user.has_perm(SHIP_PERMISSION):
            raise PermissionDenied
        try:
            if confirm:
                flow_variants.order_shipment_report(order=order, acting_user=request.user, **form.cleaned_data)
            else:
                flow_variants.order_packages_create(order=order, acting_user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            model_admin.message_user(request, exc.message, messages.ERROR)
        else:
            now = Order.objects.get(pk=order.pk)
            done = "Shipped" if confirm else "Packed (confirm the shipment from the package)"
            model_admin.message_user(request, f"{done}: order {order.number} is {now.get_status_display().lower()}.")
        return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": order,
        "title": f"Ship order {order.number}",
        "form": form,
        "change_url": change_url,
        "can_confirm": request.user.has_perm(SHIP_PERMISSION),
    }
    return TemplateResponse(request, "admin/orders/order/ship.html", context)
