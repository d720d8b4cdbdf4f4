"""What the kernel offers the apps: job, e-mail and dashboard registries, notes, one ship-to address."""

from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from commerce.admin_site import BackOfficeSite, DashboardPanel
from commerce.jobs import REGISTRY, JobOutcome, JobSpec, job_get, job_register, job_run, run_scheduled_job
from commerce.models import JobItemFailure, JobRun, Product, ship_to_copy
from commerce.notifications import NOTIFICATIONS, Audience, notifications_register
from fulfillment.models import Release
from orders.jobs import JOBS
from orders.models import Order
from tests.factories.commerce import ProductFactory, StaffUserFactory
from tests.factories.orders import OrderFactory


def test_every_order_job_is_registered_with_the_engine():
    assert all(job_get(name) is spec for name, spec in JOBS.items())


def test_another_job_under_a_registered_name_is_refused():
    impostor = JobSpec(name="balance_payment", description="", select=lambda: None, process=lambda pk: "succeeded")

    with pytest.raises(ValueError, match="balance_payment"):
        job_register(impostor)
    assert REGISTRY["balance_payment"] is JOBS["balance_payment"]


def test_an_unknown_job_is_refused_by_name():
    with pytest.raises(ValueError, match="No job 'nope'"):
        run_scheduled_job("nope")


@pytest.mark.django_db
def test_a_job_may_walk_any_model_and_its_failures_point_at_those_rows():
    mug, cap = ProductFactory(sku="MUG"), ProductFactory(sku="CAP")

    def process(pk: int) -> JobOutcome:
        if pk == cap.pk:
            raise RuntimeError("no price list")
        return JobOutcome.SUCCEEDED

    spec = JobSpec(
        name="reprice_products",
        description="A job over products.",
        select=lambda: Product.objects.values_list("pk", flat=True).order_by("pk"),
        process=process,
    )

    run = job_run(spec=spec)

    assert (run.succeeded, run.failed) == (1, 1)
    assert JobRun.objects.get(pk=run.pk).item_type == ContentType.objects.get_for_model(Product)
    failure = JobItemFailure.objects.get()
    assert (failure.item, failure.item_label, failure.failures) == (cap, str(cap), 1)
    assert mug.pk not in JobItemFailure.objects.values_list("object_id", flat=True)


@pytest.mark.django_db
def test_a_deleted_order_takes_its_job_failures_with_it():
    order = OrderFactory()
    JobItemFailure.objects.create(job_name="balance_payment", item=order, failures=3)

    order.items.all().delete()
    order.events.all().delete()
    Order.objects.filter(pk=order.pk).delete()

    assert not JobItemFailure.objects.exists()


def test_a_kind_cannot_change_its_audience():
    assert NOTIFICATIONS["order_shipped"] == Audience.CUSTOMER

    with pytest.raises(ValueError, match="order_shipped"):
        notifications_register({"order_shipped": Audience.MERCHANT})
    assert NOTIFICATIONS["order_shipped"] == Audience.CUSTOMER


def test_the_admin_site_is_the_back_office_site_and_its_index_is_not_wrapped():
    assert isinstance(admin.site, BackOfficeSite)
    assert "index" not in admin.site.__dict__


@pytest.mark.django_db
def test_a_registered_panel_shows_on_the_index_for_whom_it_has_something(settings, tmp_path):
    template = tmp_path / "panel.html"
    template.write_text('<section id="dashboard-weather">Sunny in {{ panel.city }}</section>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], str(tmp_path)]}]
    site = admin.site
    panel = DashboardPanel(
        "weather",
        "panel.html",
        lambda request: {"city": "Springfield"} if request.user.is_superuser else None,
        position=5,
    )
    site.register_dashboard_panel(panel)
    try:
        root = Client()
        root.force_login(StaffUserFactory(username="root", is_superuser=True))
        clerk = Client()
        clerk.force_login(StaffUserFactory(username="plain"))

        shown = root.get("/admin/").content.decode()
        hidden = clerk.get("/admin/").content.decode()
    finally:
        del site._dashboard_panels["weather"]

    assert "Sunny in Springfield" in shown
    assert shown.index("dashboard-weather") < shown.index("dashboard-statuses")
    assert "dashboard-weather" not in hidden


def test_one_copy_function_fills_a_ship_to_from_a_plain_address_or_another_model():
    plain = SimpleNamespace(
        name="Ada", line1="1 Main St", line2="", city="Springfield", region="IL", postal_code="62701", country="us"
    )

    order = ship_to_copy(source=plain, target=Order())
    release = ship_to_copy(source=order, target=Release())

    assert order.ship_to_country == "US"
    assert release.ship_to == order.ship_to == {**vars(plain), "country": "US"}
    assert release.ship_to_lines == ["Ada", "1 Main St", "62701 Springfield", "IL", "US"]
