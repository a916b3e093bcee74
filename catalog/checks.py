"""System checks for the catalog's own settings (run by `manage.py check`, runserver, migrate)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

# A live run stamps its heartbeat every SYNC_HEARTBEAT_SECONDS; a row is taken for dead after
# SYNC_STALE_AFTER_SECONDS. Less than this many missed heartbeats (a busy database, a paused
# process) must never make a live run look dead: it would lose its lock and stop.
STALE_HEARTBEATS_MARGIN = 2
STALE_TOO_SOON = (
    "SYNC_STALE_AFTER_SECONDS ({stale}) must be more than {margin} x SYNC_HEARTBEAT_SECONDS "
    "({heartbeat}): a live sync would be taken for dead after one or two late heartbeats."
)
STALE_TOO_SOON_HINT = (
    "Raise SYNC_STALE_AFTER_SECONDS (default 60) or lower SYNC_HEARTBEAT_SECONDS (default 5)."
)
HEARTBEAT_NOT_POSITIVE = "SYNC_HEARTBEAT_SECONDS ({heartbeat}) must be more than 0."


@register()
def check_sync_timing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """catalog.E001: stale detection must leave a live run room for late heartbeats."""
    heartbeat = settings.SYNC_HEARTBEAT_SECONDS
    stale = settings.SYNC_STALE_AFTER_SECONDS
    if heartbeat <= 0:
        return [Error(HEARTBEAT_NOT_POSITIVE.format(heartbeat=heartbeat), id="catalog.E002")]
    if stale <= STALE_HEARTBEATS_MARGIN * heartbeat:
        message = STALE_TOO_SOON.format(
            stale=stale, heartbeat=heartbeat, margin=STALE_HEARTBEATS_MARGIN
        )
        return [Error(message, hint=STALE_TOO_SOON_HINT, id="catalog.E001")]
    return []


SITE_URL_LOCAL = (
    "SITE_URL is {site_url}, a local address: the feed, the calendar and the webcal link would "
    "send subscribers there."
)
SITE_URL_LOCAL_HINT = "Set SITE_URL to the site's public address, e.g. https://catalog.example.org."
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register(deploy=True)
def check_site_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """catalog.W001 (`check --deploy`): production builds absolute URLs from SITE_URL, so it
    must not be left at the local default."""
    if urlsplit(settings.SITE_URL).hostname in LOCAL_HOSTS:
        message = SITE_URL_LOCAL.format(site_url=settings.SITE_URL)
        return [Warning(message, hint=SITE_URL_LOCAL_HINT, id="catalog.W001")]
    return []
