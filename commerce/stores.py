"""Finding a store by the code a client sends."""

from commerce.errors import ValidationFailed
from commerce.models import Store


def store_from_code(code: str | None, *, field: str = "store") -> Store | None:
    """The store with this code, None when no code is given; an unknown code is a 400 naming ``field``."""
    if not code:
        return None
    store = Store.objects.select_related("currency").filter(code=code).first()
    if store is None:
        raise ValidationFailed(f"{field}: no store {code!r}.", details={field: ["Unknown store."]})
    return store
