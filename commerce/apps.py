from django.apps import AppConfig
from django.db.models.signals import post_migrate


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
