"""Admin of inventory and fulfillment: stock, receipts, releases, pick batches, packages.

Counts and statuses are read-only here: they change through the services (receiving, allocating,
batching, packing, shipping), which keep stock and allocations in step.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Prefetch, Sum
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, ReadOnlyInline, message_outcomes, run_per_object
from commerce.admin_site import DashboardLink
from commerce.errors import ApplicationError
from commerce.models import Product
from fulfillment.batches import pick_batch_create
from fulfillment.documents import DocumentNotReady, document_print
from fulfillment.models import (
    Allocation,
    Document,
    ExpectedReceipt,
    ExpectedReceiptLine,
    FulfillmentCenter,
    Package,
    PackageItem,
    PickBatch,
    PrintRecord,
    Release,
    ReleaseItem,
    Stock,
    WeightUnit,
)
from fulfillment.services import inventory_check, inventory_receive
from fulfillment.shipping import package_confirm_shipment, package_create

# Inventory.


@admin.register(FulfillmentCenter)
class FulfillmentCenterAdmin(ModelAdmin):
    list_display = ["code", "name", "priority", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    actions = ["create_pick_batch"]

    def has_add_pickbatch_permission(self, request) -> bool:
        return request.user.has_perm("fulfillment.add_pickbatch")

    @admin.action(description="Create a pick batch for the selected centers", permissions=["add_pickbatch"])
    def create_pick_batch(self, request, queryset):
        created, nothing = [], []
        for center in queryset.order_by("pk"):
            try:
                batch = pick_batch_create(fulfillment_center=center, acting_user=request.user)
            except ApplicationError as exc:
                nothing.append(f"{center.code}: {exc.message}")
            else:
                created.append(f"{batch.number} ({center.code}, {batch.releases.count()} releases)")
        if created:
            self.message_user(request, f"Created {len(created)} pick batch(es): {'; '.join(created)}.")
        if nothing:
            self.message_user(request, " ".join(nothing), messages.WARNING)


class ReceiveForm(forms.Form):
    fulfillment_center = forms.ModelChoiceField(queryset=FulfillmentCenter.objects.filter(active=True))
    product = forms.ModelChoiceField(queryset=Product.objects.filter(active=True).order_by("sku"))
    quantity = forms.IntegerField(min_value=1)


@admin.register(Stock)
class StockAdmin(ModelAdmin):
    list_display = ["product", "fulfillment_center", "bin", "on_hand", "allocated", "available"]
    list_filter = ["fulfillment_center", "product__backorderable"]
    list_select_related = ["product", "fulfillment_center"]
    search_fields = ["product__sku", "product__name", "bin"]
    readonly_fields = ["on_hand", "allocated", "updated_at"]
    autocomplete_fields = ["product"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(atp=F("on_hand") - F("allocated"))

    def get_readonly_fields(self, request, obj=None):
        # A new row may start with goods on hand; afterwards receiving and shipping move the counts.
        return ["allocated", "updated_at"] if obj is None else self.readonly_fields

    @admin.display(description="available (ATP)", ordering="atp")
    def available(self, stock: Stock) -> int:
        return stock.available

    def get_urls(self):
        return [
            path("receive/", self.admin_site.admin_view(self.receive_view), name="fulfillment_stock_receive"),
            path("check/", self.admin_site.admin_view(self.check_view), name="fulfillment_stock_check"),
        ] + super().get_urls()

    def _page(self, request, template: str, title: str, **context):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context}
        return TemplateResponse(request, template, context)

    def receive_view(self, request):
        """Receive goods into a center's stock, closing its expected receipt lines of the product first."""
        if not request.user.has_perm("fulfillment.receive_inventory"):
            raise PermissionDenied
        form = ReceiveForm(request.POST or None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = inventory_receive(
                    fulfillment_center=data["fulfillment_center"], product=data["product"], quantity=data["quantity"]
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                closed = f" Closed expected lines: {', '.join(result.closed_lines)}." if result.closed_lines else ""
                promised = (
                    f" {result.promised_to_backorders} went to backorders waiting for them."
                    if result.promised_to_backorders
                    else ""
                )
                self.message_user(
                    request,
                    f"Received {result.quantity} x {data['product'].sku} at {data['fulfillment_center'].code}: "
                    f"{result.stock.on_hand} on hand, {result.stock.available} available.{closed}{promised}",
                )
                return HttpResponseRedirect(reverse("admin:fulfillment_stock_receive"))
        return self._page(request, "admin/fulfillment/stock/receive.html", "Receive goods", form=form)

    def check_view(self, request):
        """Compare allocated stock with the allocation rows; supervisors may repair the drift."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_repair = request.user.has_perm("fulfillment.check_inventory")
        if request.method == "POST":
            if not can_repair:
                raise PermissionDenied
            report = inventory_check(repair=True)
            if report.repaired:
                rows = len(report.stock_drift) + len(report.receipt_drift)
                self.message_user(request, f"Repaired {rows} drifting row(s).")
            else:
                self.message_user(request, "Nothing to repair: the inventory is consistent.")
            return HttpResponseRedirect(reverse("admin:fulfillment_stock_check"))
        report = inventory_check()
        drift = len(report.stock_drift) + len(report.receipt_drift)
        return self._page(
            request,
            "admin/fulfillment/stock/check.html",
            "Check inventory",
            report=report,
            drift=drift,
            can_repair=can_repair,
        )


class ExpectedReceiptLineInline(admin.TabularInline):
    model = ExpectedReceiptLine
    extra = 1
    fields = ["product", "quantity_ordered", "quantity_received", "quantity_allocated"]
    readonly_fields = ["quantity_received", "quantity_allocated"]
    autocomplete_fields = ["product"]


@admin.register(ExpectedReceipt)
class ExpectedReceiptAdmin(ModelAdmin):
    list_display = ["number", "fulfillment_center", "vendor", "expected_at", "status"]
    list_filter = ["status", "fulfillment_center"]
    list_select_related = ["fulfillment_center"]
    search_fields = ["number", "vendor", "lines__product__sku"]
    date_hierarchy = "expected_at"
    inlines = [ExpectedReceiptLineInline]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["order_item", "order_number", "fulfillment_center", "kind", "quantity", "expires_at"]
    list_filter = ["kind", "fulfillment_center"]
    list_select_related = ["order_item__order", "fulfillment_center"]
    search_fields = ["order_item__order__number", "order_item__sku"]

    @admin.display(description="order", ordering="order_item__order__number")
    def order_number(self, allocation: Allocation) -> str:
        return allocation.order_item.order.number


# Releases and packing.


class ReleaseItemInline(ReadOnlyInline):
    model = ReleaseItem
    view_permission = "fulfillment.view_release"
    fields = ["order_item", "quantity", "quantity_packed", "quantity_shipped"]


class PackageInline(ReadOnlyInline):
    model = Package
    fields = ["link", "carrier", "tracking_number", "weight", "weight_unit", "status", "shipped_at"]

    @admin.display(description="package")
    def link(self, package: Package) -> str:
        return format_html(
            '<a href="{}">Package {}</a>', reverse("admin:fulfillment_package_change", args=[package.pk]), package.pk
        )


class PackForm(forms.Form):
    carrier = forms.CharField(max_length=64)
    tracking_number = forms.CharField(max_length=64)
    weight = forms.DecimalField(max_digits=10, decimal_places=3, required=False)
    weight_unit = forms.ChoiceField(choices=WeightUnit.choices, initial=WeightUnit.KG)
    shipping_cost = forms.DecimalField(max_digits=18, decimal_places=5, required=False)


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "order", "fulfillment_center", "ship_mode", "status", "batch", "tote", "created_at"]
    list_filter = ["status", "fulfillment_center", "ship_mode"]
    list_select_related = ["order", "fulfillment_center", "batch"]
    search_fields = ["number", "order__number", "items__order_item__sku"]
    date_hierarchy = "created_at"
    inlines = [ReleaseItemInline, PackageInline]
    change_form_template = "fulfillment/admin/release_change_form.html"

    def get_urls(self):
        return [
            path("<int:pk>/pack/", self.admin_site.admin_view(self.pack_view), name="fulfillment_release_pack"),
        ] + super().get_urls()

    def pack_view(self, request, pk: int):
        """Pack everything of the release not packed yet, with its carrier and tracking number."""
        if not request.user.has_perm("fulfillment.add_package"):
            raise PermissionDenied
        release = get_object_or_404(Release.objects.select_related("order"), pk=pk)
        form = PackForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                package = package_create(release=release, items=None, acting_user=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Packed package {package.pk} of {release.number}.")
                return HttpResponseRedirect(reverse("admin:fulfillment_package_change", args=[package.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": release,
            "title": f"Pack release {release.number}",
            "form": form,
            "items": release.items.select_related("order_item"),
        }
        return TemplateResponse(request, "fulfillment/admin/release_pack.html", context)


class PackageItemInline(ReadOnlyInline):
    model = PackageItem
    view_permission = "fulfillment.view_package"
    fields = ["order_item", "quantity"]


@admin.register(Package)
class PackageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "release", "carrier", "tracking_number", "status", "created_at", "shipped_at"]
    list_filter = ["status", "carrier"]
    list_select_related = ["release"]
    search_fields = ["tracking_number", "release__number", "release__order__number"]
    inlines = [PackageItemInline]
    actions = ["confirm_shipment"]
    change_form_template = "fulfillment/admin/package_change_form.html"

    def has_ship_permission(self, request) -> bool:
        return request.user.has_perm("fulfillment.ship_package")

    @admin.action(description="Confirm shipment of the selected packages", permissions=["ship"])
    def confirm_shipment(self, request, queryset):
        outcomes = run_per_object(
            queryset.select_related("release").order_by("pk"),
            lambda package: package_confirm_shipment(package=package, acting_user=request.user),
            label=lambda package: f"package {package.pk} ({package.release.number}, {package.tracking_number})",
        )
        message_outcomes(self, request, outcomes, verb="Confirmed the shipment of", noun="package(s)")

    def get_urls(self):
        view = self.admin_site.admin_view(self.confirm_view)
        return [path("<int:pk>/confirm-shipment/", view, name="fulfillment_package_confirm")] + super().get_urls()

    def confirm_view(self, request, pk: int):
        if request.method != "POST" or not self.has_ship_permission(request):
            raise PermissionDenied
        self.confirm_shipment(request, Package.objects.filter(pk=pk))
        return HttpResponseRedirect(reverse("admin:fulfillment_package_change", args=[pk]))


class OrderReleaseInline(ReadOnlyInline):
    """An order's releases and their packages, for the order admin page."""

    model = Release
    fk_name = "order"
    fields = ["link", "fulfillment_center", "ship_mode", "status", "batch", "tote", "shipments"]
    verbose_name_plural = "releases and shipments"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("fulfillment_center", "batch").prefetch_related("packages")

    @admin.display(description="release")
    def link(self, release: Release) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:fulfillment_release_change", args=[release.pk]), release.number
        )

    @admin.display(description="packages")
    def shipments(self, release: Release) -> str:
        return ", ".join(
            f"{p.carrier} {p.tracking_number} ({p.get_status_display().lower()})" for p in release.packages.all()
        )


# Pick batches and their documents.


class BatchReleaseInline(ReadOnlyInline):
    model = Release
    fk_name = "batch"
    fields = ["tote", "link", "order", "ship_mode", "status", "units"]
    ordering = ["tote"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order").annotate(units_total=Sum("items__quantity"))

    @admin.display(description="release")
    def link(self, release: Release) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:fulfillment_release_change", args=[release.pk]), release.number
        )

    @admin.display(description="units")
    def units(self, release: Release) -> int:
        return release.units_total or 0


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ["kind", "status", "paper_size", "pages", "rendered_at", "error", "prints_count"]

    @admin.display(description="prints")
    def prints_count(self, document: Document) -> int:
        return document.prints.count()


class PickBatchCreateForm(forms.Form):
    fulfillment_center = forms.ModelChoiceField(queryset=FulfillmentCenter.objects.filter(active=True))


@admin.register(PickBatch)
class PickBatchAdmin(ModelAdmin):
    list_display = [
        "number",
        "fulfillment_center",
        "store",
        "status",
        "expedited",
        "release_count",
        "created_by",
        "created_at",
        "printed_at",
    ]
    list_filter = ["status", "expedited", "fulfillment_center", "store"]
    list_select_related = ["fulfillment_center", "store", "created_by"]
    search_fields = ["number", "releases__number", "releases__order__number"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "number",
        "fulfillment_center",
        "store",
        "status",
        "expedited",
        "created_by",
        "created_at",
        "printed_at",
        "done_at",
    ]
    inlines = [BatchReleaseInline, DocumentInline]
    # The print buttons of fulfillment/admin/pickbatch_change_form.html, plus packing and shipping below.
    change_form_template = "admin/fulfillment/pickbatch/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(releases_total=Count("releases"))

    @admin.display(description="releases", ordering="releases_total")
    def release_count(self, batch: PickBatch) -> int:
        return batch.releases_total

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_print_permission(self, request) -> bool:
        return request.user.has_perm("fulfillment.print_pickbatch")

    def get_urls(self):
        def document_url(suffix: str, kind: str):
            view = self.admin_site.admin_view(self.document_view)
            return path(f"<int:pk>/{suffix}", view, {"kind": kind}, name=f"fulfillment_pickbatch_{kind}")

        return [
            document_url("pick-ticket.pdf", Document.Kind.PICK_TICKET),
            document_url("packing-slips.pdf", Document.Kind.PACKING_SLIPS),
            path(
                "<int:pk>/releases/<int:release_pk>/pack/",
                self.admin_site.admin_view(self.pack_view),
                name="fulfillment_pickbatch_pack",
            ),
            path(
                "<int:pk>/confirm-shipment/",
                self.admin_site.admin_view(self.confirm_view),
                name="fulfillment_pickbatch_confirm",
            ),
        ] + super().get_urls()

    # Packing and shipping from the batch page: a pack form per release, a confirm button per package.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        packing = self._packing(object_id)
        context = {
            "packing": packing,
            "any_packed": any(release.packed_waiting for release in packing),
            "pack_form": PackForm(),
            "can_pack": request.user.has_perm("fulfillment.add_package"),
            "can_ship": request.user.has_perm("fulfillment.ship_package"),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _packing(self, batch_id) -> list[Release]:
        items = ReleaseItem.objects.select_related("order_item").order_by("pk")
        releases = list(
            Release.objects.filter(batch_id=batch_id)
            .select_related("order")
            .prefetch_related(
                Prefetch("items", queryset=items), Prefetch("packages", queryset=Package.objects.order_by("pk"))
            )
            .order_by("tote", "pk")
        )
        for release in releases:
            release.units_unpacked = sum(item.quantity_unpacked for item in release.items.all())
            release.packed_waiting = [p for p in release.packages.all() if p.status == Package.Status.PACKED]
        return releases

    def _back_to_batch(self, pk: int, anchor: str = ""):
        return HttpResponseRedirect(reverse("admin:fulfillment_pickbatch_change", args=[pk]) + anchor)

    def pack_view(self, request, pk: int, release_pk: int):
        """Pack everything of one release of the batch not packed yet."""
        if request.method != "POST" or not request.user.has_perm("fulfillment.add_package"):
            raise PermissionDenied
        release = get_object_or_404(Release, pk=release_pk, batch_id=pk)
        form = PackForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{name}: {' '.join(messages_)}" for name, messages_ in form.errors.items())
            self.message_user(request, f"Pack {release.number}: {errors}", messages.ERROR)
        else:
            try:
                package = package_create(release=release, items=None, acting_user=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                self.message_user(request, f"{release.number}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Packed package {package.pk} of {release.number}: {package.carrier} {package.tracking_number}.",
                )
        return self._back_to_batch(pk, f"#release-{release.pk}")

    def confirm_view(self, request, pk: int):
        """Confirm the shipment of one package of the batch (``package`` in the form) or of all its packed ones."""
        if request.method != "POST" or not request.user.has_perm("fulfillment.ship_package"):
            raise PermissionDenied
        packages = Package.objects.filter(release__batch_id=pk, status=Package.Status.PACKED).select_related("release")
        if request.POST.get("package"):
            packages = packages.filter(pk=request.POST["package"])
        outcomes = run_per_object(
            packages.order_by("pk"),
            lambda package: package_confirm_shipment(package=package, acting_user=request.user),
            label=lambda package: f"{package.release.number} ({package.carrier} {package.tracking_number})",
        )
        message_outcomes(self, request, outcomes, verb="Confirmed the shipment of", noun="package(s)")
        return self._back_to_batch(pk, "#packing")

    def add_view(self, request, form_url="", extra_context=None):
        """Create a batch through the service: choose the center, it takes the oldest ready releases."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PickBatchCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                batch = pick_batch_create(
                    fulfillment_center=form.cleaned_data["fulfillment_center"], acting_user=request.user
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(request, f"Created pick batch {batch.number} with {batch.releases.count()} releases.")
                return HttpResponseRedirect(reverse("admin:fulfillment_pickbatch_change", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Create a pick batch",
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "fulfillment/admin/pickbatch_add.html", context)

    def document_view(self, request, pk: int, kind: str):
        if not self.has_print_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(PickBatch.objects.select_related("store"), pk=pk)
        try:
            record = document_print(batch=batch, kind=kind, acting_user=request.user)
        except ApplicationError as exc:
            level = messages.WARNING if isinstance(exc, DocumentNotReady) else messages.ERROR
            self.message_user(request, exc.message, level)
            return HttpResponseRedirect(reverse("admin:fulfillment_pickbatch_change", args=[pk]))
        filename = f"{batch.number}-{kind.replace('_', '-')}.pdf"
        return FileResponse(record.document.file.open("rb"), content_type="application/pdf", filename=filename)


@admin.register(PrintRecord)
class PrintRecordAdmin(ReadOnlyAdmin):
    list_display = ["document", "batch", "user", "printed_at", "reprint"]
    list_filter = ["reprint", "document__kind"]
    list_select_related = ["document__batch", "user"]
    search_fields = ["document__batch__number", "user__username"]

    @admin.display(description="pick batch")
    def batch(self, record: PrintRecord) -> str:
        return record.document.batch.number


admin.site.register_dashboard_links(
    [
        DashboardLink("Create a pick batch", "admin:fulfillment_pickbatch_add", "fulfillment.add_pickbatch"),
        DashboardLink("Pick batches", "admin:fulfillment_pickbatch_changelist", "fulfillment.view_pickbatch"),
        DashboardLink("Stock and ATP", "admin:fulfillment_stock_changelist", "fulfillment.view_stock"),
        DashboardLink("Receive goods", "admin:fulfillment_stock_receive", "fulfillment.receive_inventory"),
        DashboardLink("Check inventory", "admin:fulfillment_stock_check", "fulfillment.view_stock"),
    ],
    position=20,
)
