"""Visitors' catalog pages from Django's cache, keyed by the catalog version.

Our rules (docs/architecture.md, "Pages that hold a spike"):

- Only anonymous GETs are cached or served from the cache, told apart by the absence of a session
  cookie: looking at `request.user` would read the session, and no visitor's request may touch the
  session table. A request with a session cookie (staff, any logged-in user, or a stale cookie)
  or with a pending flash message is rendered as usual and never stored, so a staff page or panel
  is never served to anyone else.
- The key holds the catalog version: the latest sync row's id and state, read from the database on
  every request (the panel's one indexed SELECT, which the page makes anyway). Every process sees
  the same row, so once a sync has ended "Sync complete", the next request in any worker process
  misses the old entries and renders the new catalog. The cache backend need not be shared for
  that; settings.CACHES says which one is used and why.
- While a sync is active the catalog changes batch by batch: entries then live
  PAGE_CACHE_ACTIVE_SECONDS only; otherwise PAGE_CACHE_SECONDS, which also bounds how long an
  edit made in the admin (not a sync) takes to show.
- The key also holds the full path (query string included) and the htmx headers the views vary on,
  so the full page and each fragment are separate entries, and the site's date: what is
  "upcoming" changes at midnight (DJANGO_TIME_ZONE) without a sync. Only 200 answers are stored,
  and only those up to PAGE_CACHE_MAX_ENTRY_BYTES; the cache as a whole is bounded in bytes
  (catalog/cache.py).

`X-Catalog-Cache` (hit, miss or bypass) tells tests and the load benchmark what happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from catalog.sync_panel import SyncPanel, load_sync_panel

CACHE_HEADER = "X-Catalog-Cache"
# The request headers the cached views answer differently to (django-htmx reads them).
VARY_HEADERS = ("HX-Request", "HX-Trigger", "HX-Boosted", "HX-History-Restore-Request")
# Response headers kept with the content.
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "Vary")
# Where the panel read for the version waits for the page's template (the context processor).
PANEL_ATTRIBUTE = "catalog_sync_panel"

View = Callable[..., HttpResponse]


def catalog_version(panel: SyncPanel) -> str:
    """'<latest sync id>:<state>' ('never' before the first sync), from the panel of the page.

    The panel's read runs stale recovery too, so a dead sync cannot pin the version.
    """
    if panel.operation is None:
        return "never"
    return f"{panel.operation_id}:{'active' if panel.is_active else panel.state}"


def is_cacheable(request: HttpRequest) -> bool:
    """An anonymous GET with nothing personal to show (no session, no flash message), while
    the cache is on (PAGE_CACHE_SECONDS > 0)."""
    if settings.PAGE_CACHE_SECONDS <= 0 or request.method not in ("GET", "HEAD"):
        return False
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def page_key(request: HttpRequest, version: str) -> str:
    """The entry of this request's page. The host is part of it: pages take their absolute
    URLs from SITE_URL, and even so a page asked for under one host name never answers
    another."""
    varies = "|".join(request.headers.get(name, "") for name in VARY_HEADERS)
    today = timezone.localdate().isoformat()
    source = f"{request.get_host()}|{request.get_full_path()}|{varies}|{today}"
    return f"catalog-page:{version}:{hashlib.sha256(source.encode()).hexdigest()}"


def cached_for_visitors(view: View) -> View:
    """Serve `view`'s 200 answers to anonymous visitors from the cache (rules above)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_cacheable(request):
            response = view(request, *args, **kwargs)
            response[CACHE_HEADER] = "bypass"
            return response
        panel = load_sync_panel()
        setattr(request, PANEL_ATTRIBUTE, panel)
        key = page_key(request, catalog_version(panel))
        stored = cache.get(key)
        if stored is not None:
            content, headers = stored
            response = HttpResponse(content)
            for name, value in headers.items():
                response[name] = value
            response[CACHE_HEADER] = "hit"
            return response
        response = view(request, *args, **kwargs)
        # Cookies are per visitor: a page that asked for a CSRF token (set on the way out by the
        # middleware) or set a cookie itself is not stored.
        personal = bool(response.cookies) or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        storable = response.status_code == 200 and not response.streaming and not personal
        if storable and len(response.content) <= settings.PAGE_CACHE_MAX_ENTRY_BYTES:
            patch_vary_headers(response, ("Cookie",))
            headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
            active = panel.is_active
            timeout = settings.PAGE_CACHE_ACTIVE_SECONDS if active else settings.PAGE_CACHE_SECONDS
            cache.set(key, (response.content, headers), timeout)
        response[CACHE_HEADER] = "miss"
        return response

    return wrapper
