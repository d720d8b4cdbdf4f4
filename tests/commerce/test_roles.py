import pytest

from commerce.roles import ORDER_CLERK, PAYMENT_APPROVER, SUPERVISOR, WAREHOUSE
from tests.factories.commerce import StaffUserFactory

pytestmark = pytest.mark.django_db


def test_roles_separate_duties(roles):
    warehouse = StaffUserFactory()
    warehouse.groups.add(roles[WAREHOUSE])
    approver = StaffUserFactory()
    approver.groups.add(roles[PAYMENT_APPROVER])

    assert warehouse.has_perm("fulfillment.receive_inventory")
    assert not warehouse.has_perm("orders.review_payment")
    assert approver.has_perm("orders.review_payment")
    assert not approver.has_perm("fulfillment.receive_inventory")


def test_every_role_exists_after_migrate(roles):
    assert {ORDER_CLERK, PAYMENT_APPROVER, WAREHOUSE, SUPERVISOR} <= set(roles)
    assert roles[SUPERVISOR].permissions.filter(codename="view_exceptions").exists()
