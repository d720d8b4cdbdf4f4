from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_promotions(sender, instance, **kwargs) -> None:
    # Imported when called: this module loads while the app registry fills, before any model can.
    from orders.promotions import promotions_changed

    promotions_changed(store_id=instance.store_id)


def _forget_store_promotions(sender, instance, **kwargs) -> None:
    # Imported when called, as above.
    from orders.promotions import promotions_cache_clear

    promotions_cache_clear(store_id=instance.pk)


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # Automatic promotions are cached per store; a change must be seen at once.
        for signal in (post_save, post_delete):
            signal.connect(_forget_promotions, sender="orders.Promotion", dispatch_uid=f"orders.promotion.{signal}")
            signal.connect(_forget_store_promotions, sender="commerce.Store", dispatch_uid=f"orders.store.{signal}")

        # Imported once the registry is ready: these modules use the models of every app.
        from orders import jobs, notifications, receivers

        notifications.register()
        jobs.register()
        receivers.connect()
