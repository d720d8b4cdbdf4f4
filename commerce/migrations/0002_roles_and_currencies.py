from django.contrib.auth.management import create_permissions
from django.db import migrations

CURRENCIES = [
    ("USD", "US dollar", 2),
    ("EUR", "Euro", 2),
    ("GBP", "Pound sterling", 2),
    ("JPY", "Japanese yen", 0),
    ("CAD", "Canadian dollar", 2),
    ("CHF", "Swiss franc", 2),
]


def create_roles(apps, schema_editor):
    from commerce.roles import sync_roles

    # Permissions are normally created after migrate; make them now so the roles can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


def create_currencies(apps, schema_editor):
    Currency = apps.get_model("commerce", "Currency")
    for code, name, minor_units in CURRENCIES:
        Currency.objects.get_or_create(code=code, defaults={"name": name, "minor_units": minor_units})


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("commerce", "0001_initial"),
        ("orders", "0001_initial"),
        ("fulfillment", "0001_initial"),
        ("spending_limits", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_currencies, migrations.RunPython.noop),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
