"""How a workbook source is named: the setting when none is given, a web address or a file, and
the label that messages, the sync history and the log show for it (no credentials, no query).

Plain strings only (no download, no models), so the sync's log lines can name the workbook
without importing the download code (catalog/services/download.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

SOURCE_SETTING = "GOOGLE_SHEETS_XLSX_URL"


def resolve_source(source: str | None) -> str:
    """`source`, or settings.GOOGLE_SHEETS_XLSX_URL when there is none."""
    if source:
        return source
    from django.conf import settings

    return str(settings.GOOGLE_SHEETS_XLSX_URL)


def source_origin(source: str | None) -> str:
    """What the person set to name the workbook, for messages to point at: the setting (no
    source given), or the command's --url (a web address) or --file (anything else)."""
    if not source:
        return SOURCE_SETTING
    return "--url" if is_web_source(source) else "--file"


def source_scheme(source: str) -> str:
    """The URL scheme of `source` in lower case ("" for a path)."""
    scheme = urlsplit(source).scheme.lower()
    # "C:\\export.xlsx" has a one-letter scheme: a drive letter, not a URL.
    return scheme if len(scheme) > 1 else ""


def is_web_source(source: str) -> bool:
    return source_scheme(source) in ("http", "https")


def source_label(source: str | None) -> str:
    """How messages, the sync history and the log name the workbook: a file's name, or the URL
    without credentials, query string or fragment."""
    location = resolve_source(source)
    if is_web_source(location):
        return display_url(location)
    return Path(location.removeprefix("file://")).name or location


def display_url(url: str) -> str:
    """The URL without credentials, query string or fragment: messages and stored run options
    must not leak secrets (a token in `?key=`, a password in `user:pass@`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"
