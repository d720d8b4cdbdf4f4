"""The back office's admin site: Django's, with a dashboard on its index whose panels the apps register.

An app's ``admin.py`` adds what its staff go to every day: ``admin.site.register_dashboard_links`` for
links (each shown to those holding its permission) and ``admin.site.register_dashboard_panel`` for a
section with a template of its own (shown when its context function returns something).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class DashboardLink:
    label: str
    url_name: str
    permission: str
    query: str = ""
    help: str = ""


@dataclass(frozen=True)
class DashboardPanel:
    """A section of the index: its template, and what it shows this request's user (None: not shown)."""

    name: str
    template: str
    context: Callable[[HttpRequest], dict | None]
    position: int = 100


LINKS_TEMPLATE = "admin/backoffice/dashboard_links.html"


class BackOfficeSite(admin.AdminSite):
    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._dashboard_panels: dict[str, DashboardPanel] = {}
        self._dashboard_links: list[tuple[int, DashboardLink]] = []

    def register_dashboard_panel(self, panel: DashboardPanel) -> None:
        self._dashboard_panels[panel.name] = panel

    def register_dashboard_links(self, links: Iterable[DashboardLink], *, position: int = 100) -> None:
        """Add links to the "Queues and tools" panel; lower positions come first, then registration order."""
        known = {link for _, link in self._dashboard_links}
        self._dashboard_links.extend((position, link) for link in links if link not in known)

    def dashboard_links(self, request: HttpRequest) -> list[dict]:
        shown = []
        for _, link in sorted(self._dashboard_links, key=lambda entry: entry[0]):
            if not request.user.has_perm(link.permission):
                continue
            try:
                url = reverse(link.url_name, current_app=self.name) + link.query
            except NoReverseMatch:
                continue
            shown.append({"label": link.label, "url": url, "help": link.help})
        return shown

    def dashboard_context(self, request: HttpRequest) -> dict:
        """The panels the index shows this user, in order, each with its template and context."""
        panels = []
        for panel in sorted(self._dashboard_panels.values(), key=lambda panel: panel.position):
            context = panel.context(request)
            if context:
                panels.append({"name": panel.name, "template": panel.template, "context": context})
        links = self.dashboard_links(request)
        if links:
            panels.append({"name": "links", "template": LINKS_TEMPLATE, "context": {"links": links}})
        return {"dashboard_panels": panels}

    def index(self, request, extra_context=None):
        return super().index(request, extra_context={**self.dashboard_context(request), **(extra_context or {})})
