from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from orders import jobs, notifications, receivers

        notifications.register()
        jobs.register()
        receivers.connect()
