"""Finding a store: by the code a client sends, or the default one (cached)."""

from django.core.cache import cache

from commerce.errors import ValidationFailed
from commerce.models import Store

DEFAULT_STORE_CACHE_KEY = "commerce:default-store"
DEFAULT_STORE_CACHE_SECONDS = 60


def store_from_code(code: str | None, *, field: str = "store") -> Store | None:
    """The store with this code, None when no code is given; an unknown code is a 400 naming ``field``."""
    if not code:
        return None
    store = Store.objects.select_related("currency").filter(code=code).first()
    if store is None:
        raise ValidationFailed(f"{field}: no store {code!r}.", details={field: ["Unknown store."]})
    return store


def default_store() -> Store:
    """The default store with its currency, from the cache (every save or delete of a store clears it).

    Placing an order without a store code asks for it each time; the cache spares that statement.
    Writers that change stores with a queryset ``update()`` call ``default_store_cache_clear`` after.
    """
    store = cache.get(DEFAULT_STORE_CACHE_KEY)
    if store is None:
        store = Store.objects.select_related("currency").get(is_default=True)
        cache.set(DEFAULT_STORE_CACHE_KEY, store, DEFAULT_STORE_CACHE_SECONDS)
    return store


def default_store_cache_clear(**kwargs) -> None:
    """Forget the cached default store (connected to every save and delete of a store)."""
    cache.delete(DEFAULT_STORE_CACHE_KEY)
