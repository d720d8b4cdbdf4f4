from django.apps import AppConfig


class SpendingLimitsConfig(AppConfig):
    name = "spending_limits"
    verbose_name = "Spending limits"
