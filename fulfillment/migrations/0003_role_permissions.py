from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_role_permissions(apps, schema_editor):
    """Give the role groups the permissions of the fulfillment models added in 0002.

    The roles migration ran before these models existed, and post_migrate syncs the roles for the
    commerce app before the fulfillment app's permissions are created, so a fresh install needs this.
    """
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
        ("commerce", "0002_roles_and_currencies"),
        ("fulfillment", "0002_releases_batches_packages"),
    ]

    operations = [
        migrations.RunPython(grant_role_permissions, migrations.RunPython.noop),
    ]
