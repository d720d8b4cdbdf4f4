from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "commerce.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from commerce.webhooks import events  # noqa: F401  (connects the endpoint cache invalidation)
