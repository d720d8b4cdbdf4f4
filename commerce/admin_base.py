"""What every app's admin shares: read-only pages for service-written rows, links, per-object actions.

Rows that services and jobs write (payments, ledgers, allocations, releases, job runs) are shown in the
admin and never edited by hand; bulk actions loop a service over the selected rows and report what
worked and what did not, with the service's own message for each failure.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from commerce.errors import ApplicationError
from commerce.money import quantize_money


class ModelAdmin(admin.ModelAdmin):
    """Every app's model admin: a bulk action given a selection that names no row is refused with a
    message (Django would fail with a server error converting it to a key)."""

    def response_action(self, request, queryset):
        key = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                key.to_python(value)
        except ValidationError:
            self.message_user(request, "The selection names no valid row; nothing was done.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


class ReadOnlyAdminMixin:
    """Shown, never added or changed by hand; deleted only where ``deletable`` says so."""

    # A queue of things to look at (JobItemFailure) may be dismissed row by row; records may not.
    deletable = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


class ReadOnlyAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """A model admin for rows only services write."""


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A tabular inline of service-written rows: every listed field read-only, no empty rows."""

    extra = 0
    can_delete = False
    # Rows that are parts of their parent (a release's items) are seen by whoever may see the parent:
    # name the parent's view permission here instead of granting one per part.
    view_permission = ""

    def has_view_permission(self, request, obj=None) -> bool:
        if self.view_permission:
            return request.user.has_perm(self.view_permission)
        return super().has_view_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        listed = list(self.fields or [])
        return listed + [name for name in super().get_readonly_fields(request, obj) if name not in listed]


def admin_url(obj: models.Model, view: str = "change") -> str | None:
    """The admin URL of ``obj`` (its change page by default), or None when its model is not registered."""
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
    except NoReverseMatch:
        return None


def admin_link(obj: models.Model | None, text: Any = None) -> str:
    """A link to ``obj``'s admin page, or its plain text when it has none."""
    if obj is None:
        return "-"
    label = obj if text is None else text
    url = admin_url(obj)
    if url is None:
        return format_html("{}", label)
    return format_html('<a href="{}">{}</a>', url, label)


def money(amount, currency) -> str:
    """An amount rounded to its currency's minor unit, with the currency code: ``120.00 USD``."""
    if amount is None:
        return "-"
    return f"{quantize_money(amount, currency)} {getattr(currency, 'code', currency)}"


@dataclass
class Outcomes:
    """What a bulk action did: labels of the rows it changed and the failures' messages."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_per_object(
    objects: Iterable[models.Model], call: Callable[[models.Model], Any], *, label: Callable[[Any], str] = str
) -> Outcomes:
    """Call a service for each object on its own; an ApplicationError fails that object only."""
    outcomes = Outcomes()
    for obj in objects:
        try:
            call(obj)
        except ApplicationError as exc:
            outcomes.failed.append(f"{label(obj)}: {exc.message}")
        else:
            outcomes.done.append(label(obj))
    return outcomes


def message_outcomes(modeladmin: admin.ModelAdmin, request, outcomes: Outcomes, *, verb: str, noun: str) -> None:
    """Tell the user how many rows ``verb`` worked on and which failed, with why."""
    if outcomes.done:
        modeladmin.message_user(
            request, f"{verb} {len(outcomes.done)} {noun}: {', '.join(outcomes.done)}.", messages.SUCCESS
        )
    if outcomes.failed:
        modeladmin.message_user(
            request, f"{len(outcomes.failed)} {noun} failed: {'; '.join(outcomes.failed)}", messages.ERROR
        )
    if not outcomes.done and not outcomes.failed:
        modeladmin.message_user(request, f"No {noun} selected.", messages.WARNING)
