from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_role_permissions(apps, schema_editor):
    """Give the role groups the permissions of promotions and of placing orders for customers."""
    from commerce.roles import sync_roles

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("commerce", "0005_credit_line_and_promotion_flag"),
        ("fulfillment", "0003_role_permissions"),
        ("orders", "0003_promotions_on_behalf"),
    ]

    operations = [
        migrations.RunPython(grant_role_permissions, migrations.RunPython.noop),
    ]
