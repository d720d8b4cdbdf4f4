"""Staff roles as groups, and the permissions each holds. Data, kept in sync by a migration."""

from django.apps import apps as global_apps

ORDER_CLERK = "Order clerk"
PAYMENT_APPROVER = "Payment approver"
WAREHOUSE = "Warehouse"
SUPERVISOR = "Supervisor"

_VIEW_ORDERS = [
    "orders.view_order",
    "orders.view_returnrequest",
    "orders.view_returnitem",
    "orders.view_returnevent",
    "orders.view_orderitem",
    "orders.view_orderevent",
    "commerce.view_customer",
    "commerce.view_product",
]
_VIEW_LEDGERS = [
    "spending_limits.view_tradingagreement",
    "spending_limits.view_purchaseorder",
    "spending_limits.view_tradingagreementpurchase",
    "spending_limits.view_tradingagreementrefund",
    "spending_limits.view_purchaseorderpurchase",
    "spending_limits.view_purchaseorderrefund",
]
_VIEW_INVENTORY = [
    "fulfillment.view_stock",
    "fulfillment.view_fulfillmentcenter",
    "fulfillment.view_expectedreceipt",
    "fulfillment.view_expectedreceiptline",
    "fulfillment.view_allocation",
]

# Permissions an app adds later are granted by naming them here; codenames that do not exist
# (yet) are skipped, so the table can name the whole product.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ORDER_CLERK: _VIEW_ORDERS
    + _VIEW_INVENTORY
    + _VIEW_LEDGERS
    + [
        "orders.approve_returnrequest",
        "orders.credit_returnrequest",
        "orders.change_order",  # the notes; everything else on an order changes through its services
        "orders.add_order",  # orders placed on behalf of a customer
        "orders.view_promotion",
        "orders.approve_order",
        "orders.cancel_order",
        "orders.release_order",
        "payments.view_payment",
        "payments.view_paymenttransaction",
        "fulfillment.view_release",
        "fulfillment.view_package",
    ],
    PAYMENT_APPROVER: _VIEW_ORDERS
    + [
        "orders.review_payment",
        "payments.view_payment",
        "payments.view_paymenttransaction",
        "payments.review_payment",
    ],
    WAREHOUSE: _VIEW_ORDERS
    + _VIEW_INVENTORY
    + [
        "orders.receive_returnrequest",
        "fulfillment.receive_inventory",
        "fulfillment.add_expectedreceipt",
        "fulfillment.change_expectedreceipt",
        "fulfillment.add_expectedreceiptline",
        "fulfillment.change_expectedreceiptline",
        "fulfillment.view_release",
        "fulfillment.view_pickbatch",
        "fulfillment.add_pickbatch",
        "fulfillment.print_pickbatch",
        "fulfillment.view_package",
        "fulfillment.add_package",
        "fulfillment.ship_package",
        "fulfillment.view_document",
        "fulfillment.view_printrecord",
    ],
    SUPERVISOR: _VIEW_ORDERS
    + _VIEW_INVENTORY
    + _VIEW_LEDGERS
    + [
        "orders.change_order",
        "orders.add_order",
        "orders.approve_order",
        "orders.cancel_order",
        "orders.release_order",
        "orders.review_payment",
        "orders.view_exceptions",
        "orders.approve_returnrequest",
        "orders.receive_returnrequest",
        "orders.credit_returnrequest",
        "orders.view_promotion",
        "orders.add_promotion",
        "orders.change_promotion",
        "commerce.view_organization",
        "payments.view_payment",
        "payments.view_paymenttransaction",
        "payments.review_payment",
        "fulfillment.receive_inventory",
        "fulfillment.check_inventory",
        "fulfillment.view_release",
        "fulfillment.view_pickbatch",
        "fulfillment.view_package",
        "fulfillment.view_document",
        "fulfillment.view_printrecord",
        "commerce.view_jobrun",
        "commerce.view_jobitemfailure",
        "django_q.view_schedule",
        "django_q.change_schedule",
        "django_q.view_failure",
        "django_q.view_success",
        # The storefront's webhook endpoints and their delivery log.
        "webhooks.view_webhookendpoint",
        "webhooks.add_webhookendpoint",
        "webhooks.change_webhookendpoint",
        "webhooks.delete_webhookendpoint",
        "webhooks.view_webhookdelivery",
        "webhooks.view_webhookattempt",
        "webhooks.redeliver_webhookdelivery",
    ],
}


def sync_roles(apps=None) -> None:
    """Create the role groups and give each exactly the permissions of its row that exist."""
    if apps is None:
        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = set()
        for name in names:
            app_label, codename = name.split(".", 1)
            wanted.add((app_label, codename))
        perms = [
            perm
            for perm in Permission.objects.select_related("content_type")
            if (perm.content_type.app_label, perm.codename) in wanted
        ]
        group.permissions.set(perms)
