from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


def _forget_policy(sender, instance, **kwargs) -> None:
    # Imported when called: this module loads while the app registry fills, before any model can.
    from payments.policies import policy_cache_clear

    policy_cache_clear(store_id=instance.store_id, method=instance.method)


def _forget_store_policies(sender, instance, **kwargs) -> None:
    # Imported when called, as above.
    from payments.policies import policy_cache_clear

    for method in settings.PAYMENT_METHODS:
        policy_cache_clear(store_id=instance.pk, method=method)


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # Accept policies are cached per store and method; a change must be seen at once.
        for signal in (post_save, post_delete):
            signal.connect(_forget_policy, sender="payments.AcceptPolicy", dispatch_uid=f"payments.policy.{signal}")
            signal.connect(_forget_store_policies, sender="commerce.Store", dispatch_uid=f"payments.store.{signal}")
