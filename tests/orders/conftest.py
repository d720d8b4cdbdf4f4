from django.contrib.auth import get_user_model

from fulfillment.models import Stock

ADDRESS = {
    "name": "Alice Example",
    "line1": "12 Elm Street",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}


def user(username: str):
    return get_user_model().objects.get(username=username)


def order_body(*items, token="tok_approve", method="card", **extra):
    """A placement body: items as (sku, quantity) or (sku, quantity, agreement)."""
    lines = []
    for item in items:
        line = {"sku": item[0], "quantity": item[1]}
        if len(item) > 2:
            line["trading_agreement"] = item[2]
        lines.append(line)
    payment = {"method": method}
    if token:
        payment["token"] = token
    return {"items": lines, "payment": payment, "shipping_address": ADDRESS, **extra}


def place(client, *items, key=None, **kwargs):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/orders/", order_body(*items, **kwargs), format="json", **headers)


def stock(sku: str, center: str = "EAST") -> tuple[int, int]:
    row = Stock.objects.get(product__sku=sku, fulfillment_center__code=center)
    return row.on_hand, row.allocated


def availability(client, sku: str) -> dict:
    return client.get(f"/api/v1/products/{sku}/availability/").json()
