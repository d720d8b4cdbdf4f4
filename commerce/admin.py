from django.contrib import admin

from commerce.models import Currency, Customer, ExchangeRate, Organization, Product, Store


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "is_default", "partial_release", "batch_size"]


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "minor_units"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["from_currency", "to_currency", "rate", "updated_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "approval_threshold", "approval_currency"]
    filter_horizontal = ["approvers"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["number", "user", "organization"]
    list_select_related = ["user", "organization"]
    search_fields = ["number", "user__username", "user__email"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "backorderable", "active"]
    list_filter = ["backorderable", "active"]
    search_fields = ["sku", "name"]
