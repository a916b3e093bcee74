"""Template context shared by the pages."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from catalog.sync_panel import load_sync_panel


def sync_panel(request: HttpRequest) -> dict[str, object]:
    """`sync_panel` for templates that include catalog/sync_panel.html.

    Lazy: the query runs only when a template reads it, so pages without the panel pay nothing.
    Computed on every page load from the database row, so a page loaded during a sync (a
    refresh, a second tab, another worker process) shows it in progress at once.
    """

    def load() -> object:
        # request.user is read here, not before: a page without the panel neither touches the
        # session nor varies on Cookie.
        user = getattr(request, "user", None)
        return load_sync_panel(staff=bool(user and user.is_active and user.is_staff))

    return {"sync_panel": SimpleLazyObject(load)}
