"""What a fresh install's migrations leave in the database."""

import pytest
from django.contrib.auth.models import Group

from commerce.roles import ROLE_PERMISSIONS, WAREHOUSE


@pytest.mark.django_db
def test_the_warehouse_role_holds_the_fulfillment_permissions_after_migrate():
    wanted = {name for name in ROLE_PERMISSIONS[WAREHOUSE] if name.startswith("fulfillment.")}

    held = {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=WAREHOUSE).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }

    assert {"fulfillment.add_pickbatch", "fulfillment.print_pickbatch", "fulfillment.ship_package"} <= wanted
    assert wanted <= held
