from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_promotions(sender, instance, **kwargs) -> None:
    from orders.promotions import promotions_changed

    promotions_changed(store_id=instance.store_id)


def _forget_store_promotions(sender, instance, **kwargs) -> None:
    from orders.promotions import promotions_cache_clear

    promotions_cache_clear(store_id=instance.pk)


def _release_shipped(sender, **kwargs) -> None:
    from orders.flow_variants import on_release_shipped

    on_release_shipped(sender, **kwargs)


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # Automatic promotions are cached per store; a change must be seen at once.
        for signal in (post_save, post_delete):
            signal.connect(_forget_promotions, sender="orders.Promotion", dispatch_uid=f"orders.promotion.{signal}")
            signal.connect(_forget_store_promotions, sender="commerce.Store", dispatch_uid=f"orders.store.{signal}")
        # Payment rules deposit each shipped release (the finalize event, DESIGN section 18).
        from fulfillment.signals import release_shipped

        release_shipped.connect(_release_shipped, dispatch_uid="orders.release_shipped")
