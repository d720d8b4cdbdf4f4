from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from commerce.roles import sync_roles

    sync_roles()


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        # After every migrate, so permissions added by a later migration reach the roles too.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="commerce.sync_roles")
