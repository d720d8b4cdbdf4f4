from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _forget_default_store(sender, **kwargs) -> None:
    # Imported when called, as below.
    from commerce.stores import default_store_cache_clear

    default_store_cache_clear()


def _sync_roles(sender, **kwargs) -> None:
    # Imported when called: this module loads while the app registry fills, before the auth models can.
    from commerce.roles import sync_roles

    sync_roles()


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from commerce import (
            converters,  # noqa: F401  (registers the ``key`` path converter)
            lockout,  # noqa: F401  (records and logs login lockouts)
        )
        from commerce.api import schema  # noqa: F401  (registers the ``Token`` security scheme)

        # After every app's permissions are created (post_migrate runs per app, in INSTALLED_APPS order),
        # so permissions a later app or migration adds reach the roles too.
        post_migrate.connect(_sync_roles, dispatch_uid="commerce.sync_roles")
        # The default store is cached for placements; a change must be seen at once.
        for signal in (post_save, post_delete):
            signal.connect(_forget_default_store, sender="commerce.Store", dispatch_uid=f"commerce.store.{signal}")
