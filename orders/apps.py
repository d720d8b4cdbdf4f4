from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        # Imported once the registry is ready: these modules use the models of every app.
        from orders import jobs, notifications, receivers

        notifications.register()
        jobs.register()
        receivers.connect()
