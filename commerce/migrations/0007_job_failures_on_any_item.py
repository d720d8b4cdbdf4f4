# A job's failure record points at any item (content type and id) instead of an order foreign key;
# a job run names the model of the ids in its errors. Existing rows are about orders and keep their ids.

import django.db.models.deletion
from django.db import migrations, models


def orders_content_type(apps):
    content_type = apps.get_model("contenttypes", "ContentType")
    return content_type.objects.get_or_create(app_label="orders", model="order")[0]


def point_at_orders(apps, schema_editor):
    failure = apps.get_model("commerce", "JobItemFailure")
    run = apps.get_model("commerce", "JobRun")
    if not failure.objects.exists() and not run.objects.exists():
        return
    order_type = orders_content_type(apps)
    for row in failure.objects.select_related("order").only("pk", "order_id", "order__number"):
        failure.objects.filter(pk=row.pk).update(
            content_type=order_type, object_id=row.order_id, item_label=row.order.number
        )
    run.objects.filter(item_type__isnull=True).update(item_type=order_type)


def point_back_at_orders(apps, schema_editor):
    failure = apps.get_model("commerce", "JobItemFailure")
    failure.objects.exclude(content_type__app_label="orders", content_type__model="order").delete()
    for row in failure.objects.all().only("pk", "object_id"):
        failure.objects.filter(pk=row.pk).update(order_id=row.object_id)


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0006_store_webhook_event_types"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobitemfailure",
            name="content_type",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contenttypes.contenttype"
            ),
        ),
        migrations.AddField(
            model_name="jobitemfailure",
            name="object_id",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="jobitemfailure",
            name="item_label",
            field=models.CharField(blank=True, help_text="How the item reads (an order's number).", max_length=255),
        ),
        migrations.AddField(
            model_name="jobrun",
            name="item_type",
            field=models.ForeignKey(
                blank=True,
                help_text="What the job walks (orders): the model of the ids in errors.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="errors",
            field=models.JSONField(blank=True, default=list, help_text='[{"id": item id, "error": "..."}]'),
        ),
        migrations.AlterField(
            model_name="jobitemfailure",
            name="order",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="job_failures", to="orders.order"
            ),
        ),
        migrations.RunPython(point_at_orders, point_back_at_orders),
        migrations.RemoveConstraint(
            model_name="jobitemfailure",
            name="job_item_failure_unique_order",
        ),
        migrations.RemoveField(
            model_name="jobitemfailure",
            name="order",
        ),
        migrations.AlterField(
            model_name="jobitemfailure",
            name="content_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contenttypes.contenttype"
            ),
        ),
        migrations.AlterField(
            model_name="jobitemfailure",
            name="object_id",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="jobitemfailure",
            constraint=models.UniqueConstraint(
                fields=("job_name", "content_type", "object_id"), name="job_item_failure_unique_item"
            ),
        ),
    ]
