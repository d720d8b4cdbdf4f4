"""Payment gateways, registered by name in ``settings.PAYMENT_GATEWAYS``."""

from django.conf import settings
from django.utils.module_loading import import_string

from payments.gateways.base import Gateway, GatewayResult, Outcome, Verification

__all__ = ["Gateway", "GatewayResult", "Outcome", "Verification", "get_gateway"]


def get_gateway(name: str) -> Gateway:
    """Return the gateway registered under ``name``."""
    path = settings.PAYMENT_GATEWAYS.get(name)
    if path is None:
        raise LookupError(f"No payment gateway {name!r} in PAYMENT_GATEWAYS.")
    return import_string(path)()
