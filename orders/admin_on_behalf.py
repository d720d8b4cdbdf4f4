"""The admin page where staff place an order on behalf of a customer (DESIGN section 16).

Choosing the customer (a GET) prefills the ship-to from their latest order; the item rows show each
product's available-to-promise stock as the page is drawn, and again from the availability API
whenever a row's product changes. Submitting calls ``order_place_on_behalf`` and opens the order.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from commerce.errors import ApplicationError
from commerce.models import Customer, Product, ShipMode
from fulfillment.selectors import atp_for_product
from orders.on_behalf import PERMISSION, customer_last_address, order_place_on_behalf
from orders.services import AddressInput, ItemInput, PlacementInput

ITEM_ROWS = 5


class CustomerChoiceForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.select_related("user", "organization").order_by("number"),
        help_text="The customer the order is for: it is theirs in every respect.",
    )


class OnBehalfOrderForm(forms.Form):
    ship_to_name = forms.CharField(max_length=128, label="Name")
    ship_to_line1 = forms.CharField(max_length=200, label="Address line 1")
    ship_to_line2 = forms.CharField(max_length=200, required=False, label="Address line 2")
    ship_to_city = forms.CharField(max_length=100, label="City")
    ship_to_region = forms.CharField(max_length=100, required=False, label="Region")
    ship_to_postal_code = forms.CharField(max_length=20, label="Postal code")
    ship_to_country = forms.RegexField(r"^[A-Za-z]{2}$", label="Country", help_text="Two-letter ISO code, e.g. US.")
    ship_mode = forms.ChoiceField(choices=ShipMode.choices, initial=ShipMode.STANDARD)
    payment_method = forms.ChoiceField(choices=[])
    payment_token = forms.CharField(max_length=128, required=False, help_text="Card payments: the card token.")
    purchase_order_number = forms.CharField(max_length=64, required=False)
    coupon = forms.CharField(max_length=32, required=False)

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = [(name, name) for name in sorted(settings.PAYMENT_METHODS)]
        choices = [("", "---------")] + [(p.sku, f"{p.sku} · {p.name} · ATP {atp}") for p, atp in products]
        for row in range(ITEM_ROWS):
            self.fields[f"sku_{row}"] = forms.ChoiceField(choices=choices, required=False, label=f"Item {row + 1}")
            self.fields[f"quantity_{row}"] = forms.IntegerField(min_value=1, max_value=10_000, required=False)

    def item_rows(self):
        return [(self[f"sku_{row}"], self[f"quantity_{row}"]) for row in range(ITEM_ROWS)]

    def clean(self):
        data = super().clean()
        lines = []
        for row in range(ITEM_ROWS):
            sku, quantity = data.get(f"sku_{row}"), data.get(f"quantity_{row}")
            if sku and not quantity:
                self.add_error(f"quantity_{row}", "How many?")
            if sku and quantity:
                lines.append((sku, quantity))
        if not lines and not self.errors:
            raise forms.ValidationError("Add at least one item.")
        data["lines"] = lines
        return data


def _products_with_atp():
    products = Product.objects.filter(active=True).order_by("sku")
    return [(product, atp_for_product(product=product)) for product in products]


def _placement(customer: Customer, data: dict) -> PlacementInput:
    products = Product.objects.in_bulk([sku for sku, _ in data["lines"]], field_name="sku")
    return PlacementInput(
        customer=customer,
        items=[ItemInput(product=products[sku], quantity=quantity) for sku, quantity in data["lines"]],
        payment_method=data["payment_method"],
        payment_token=data["payment_token"],
        shipping_address=AddressInput(
            name=data["ship_to_name"],
            line1=data["ship_to_line1"],
            line2=data["ship_to_line2"],
            city=data["ship_to_city"],
            region=data["ship_to_region"],
            postal_code=data["ship_to_postal_code"],
            country=data["ship_to_country"].upper(),
        ),
        ship_mode=data["ship_mode"],
        purchase_order_number=data["purchase_order_number"],
        coupon=data["coupon"],
    )


def _initial_address(customer: Customer) -> dict:
    address = customer_last_address(customer=customer)
    if address is None:
        return {"ship_to_name": customer.user.get_full_name() or customer.user.get_username()}
    return {f"ship_to_{name}": value for name, value in vars(address).items()}


def place_on_behalf_view(model_admin, request):
    """Step one: choose the customer; step two: items, ship-to (prefilled) and payment; then place."""
    if not (request.user.is_staff and request.user.has_perm(PERMISSION)):
        raise PermissionDenied
    chooser = CustomerChoiceForm(request.GET or None)
    customer = chooser.cleaned_data["customer"] if chooser.is_valid() else None
    form = None
    if customer is not None:
        products = _products_with_atp()
        if request.method == "POST":
            form = OnBehalfOrderForm(request.POST, products=products)
            if form.is_valid():
                try:
                    order, _ = order_place_on_behalf(
                        data=_placement(customer, form.cleaned_data), acting_user=request.user
                    )
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                else:
                    model_admin.message_user(
                        request, f"Placed order {order.number} for {customer.number}: {order.get_status_display()}."
                    )
                    return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
            else:
                messages.error(request, "Please correct the errors below.")
        else:
            form = OnBehalfOrderForm(initial=_initial_address(customer), products=products)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Place an order for a customer",
        "chooser": chooser,
        "customer": customer,
        "form": form,
    }
    return TemplateResponse(request, "admin/orders/order/place_on_behalf.html", context)
