"""Fetch the workbook's bytes: an http(s) URL (the Google Sheets XLSX export) or a local file.

requests does the HTTP. Ours are the bounds and the messages, since anyone who can edit the
setting (or the command's --url) chooses the server:

* an overall deadline (WORKBOOK_DOWNLOAD_TIMEOUT) on top of requests' per-read timeouts, and a
  size cap (WORKBOOK_MAX_BYTES) on the declared and on the received size;
* the download runs in a helper thread, so the caller sees a cancel or the deadline within a
  fraction of a second even while a read blocks (the helper ends on its own at its next chunk);
* every failure is a `WorkbookError` whose text says what to do: share the sheet, check the
  URL or the path, try again later, raise a limit. Messages show URLs without credentials or
  query string (`catalog/sources.py`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from catalog.sources import (
    SOURCE_SETTING,
    display_url,
    is_web_source,
    resolve_source,
    source_label,
    source_scheme,
)

NETWORK_ERROR = "Network error: Unable to reach external services. Please check your connection."
NOT_A_WORKBOOK = (
    "Google Sheets returned a web page, not a workbook: check that the sheet is shared "
    "publicly and that the URL is its XLSX export"
)
WORKBOOK_DAMAGED = (
    "The workbook file is damaged or incomplete ({detail}): download it again or check the URL"
)
# {origin} names what the person set: SOURCE_SETTING, or the command's --url / --file.
WORKBOOK_NOT_FOUND = (
    "The workbook URL answered 404 Not Found ({url}): the URL is wrong or the sheet no longer "
    "exists; check {origin}"
)
WORKBOOK_FORBIDDEN = (
    "Google Sheets refused access (HTTP {status}) to {url}: share the sheet publicly "
    '("Anyone with the link can view") or check the URL'
)
WORKBOOK_SERVER_ERROR = (
    "Google Sheets is having trouble (HTTP {status} from {url}): try again later"
)
WORKBOOK_HTTP_ERROR = "The workbook download failed with HTTP {status} ({url}): check the URL"
WORKBOOK_TIMEOUT = (
    "The workbook download timed out ({detail} from {url}): try again later, or raise "
    "WORKBOOK_CONNECT_TIMEOUT / WORKBOOK_READ_TIMEOUT"
)
WORKBOOK_TOO_LARGE = (
    "The workbook is larger than the {limit} limit (WORKBOOK_MAX_BYTES): check the URL, "
    "or raise the limit"
)
WORKBOOK_DOWNLOAD_DEADLINE = (
    "The workbook download took longer than {seconds:g} s (WORKBOOK_DOWNLOAD_TIMEOUT) from "
    "{url}: try again later, or raise WORKBOOK_DOWNLOAD_TIMEOUT"
)
WORKBOOK_FILE_NOT_FOUND = "Workbook file not found: {path}: check the path given to {origin}"
# A path that does not exist but reads like a web address ("127.0.0.1:8948/x.xlsx").
WORKBOOK_MISSING_SCHEME = (
    "Workbook file not found: {path}: if it is a web address, write it with http:// or "
    "https:// in {origin}"
)
UNSUPPORTED_SCHEME = (
    "{origin} uses {scheme}://, which the import cannot read: give an http:// or https:// URL "
    "instead"
)
# A local file that is not an XLSX workbook (`--file README.md`): the URL advice does not apply.
NOT_AN_XLSX_FILE = (
    "{name} is not an Excel workbook ({detail}): give {origin} an .xlsx file "
    "(in Google Sheets: File > Download > Microsoft Excel)"
)
READING_FILE = "Reading {name}..."
DOWNLOADING = "Downloading the workbook from {host}..."
WORKBOOK_FILE_UNREADABLE = "Cannot read the workbook file {path} ({detail})"


class WorkbookError(Exception):
    """The workbook could not be fetched or read. `str(error)` is a message for the user."""


class WorkbookCancelled(Exception):
    """`should_cancel()` answered True while the workbook was fetched or parsed."""


CancelFn = Callable[[], bool]


def never_cancel() -> bool:
    """The cancel check of a run that nobody can cancel."""
    return False


def reading_message(source: str | None) -> str:
    """The fetching stage's line: "Reading workbook.xlsx..." or "Downloading the workbook
    from docs.google.com..."."""
    location = resolve_source(source)
    if is_web_source(location):
        return DOWNLOADING.format(host=urlsplit(location).hostname or "?")
    return READING_FILE.format(name=source_label(location))


def fetch_workbook(
    source: str, *, origin: str = SOURCE_SETTING, should_cancel: CancelFn | None = None
) -> bytes:
    """Return the workbook's bytes from an http(s) URL or a local path (`file://` too).

    A local file must at least be a zip archive: `--file README.md` gets told what to give.
    """
    from django.conf import settings

    max_bytes = int(settings.WORKBOOK_MAX_BYTES)
    if is_web_source(source):
        return _download(
            source,
            timeout=(settings.WORKBOOK_CONNECT_TIMEOUT, settings.WORKBOOK_READ_TIMEOUT),
            max_bytes=max_bytes,
            origin=origin,
            deadline=float(settings.WORKBOOK_DOWNLOAD_TIMEOUT),
            should_cancel=should_cancel or never_cancel,
        )
    scheme = source_scheme(source)
    if scheme and scheme != "file":
        # Path() would read "ftp://host/x" as the path "ftp:/host/x" (one slash lost).
        raise WorkbookError(UNSUPPORTED_SCHEME.format(origin=origin, scheme=scheme))
    path = Path(source.removeprefix("file://")).expanduser()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=megabytes(max_bytes)))
        data = path.read_bytes()
    except FileNotFoundError:
        template = (
            WORKBOOK_MISSING_SCHEME if _looks_like_address(source) else WORKBOOK_FILE_NOT_FOUND
        )
        raise WorkbookError(template.format(path=path, origin=origin)) from None
    except IsADirectoryError:
        raise WorkbookError(
            WORKBOOK_FILE_UNREADABLE.format(path=path, detail="it is a directory")
        ) from None
    except OSError as error:
        detail = error.strerror or type(error).__name__
        raise WorkbookError(WORKBOOK_FILE_UNREADABLE.format(path=path, detail=detail)) from None
    if data and not data.startswith(b"PK"):
        detail = "a web page" if looks_like_html(data) else "not a zip archive"
        name = source_label(source)
        raise WorkbookError(NOT_AN_XLSX_FILE.format(name=name, detail=detail, origin=origin))
    return data


# A host name (or IP) followed by a port or a slash: "releases.xlsx" alone is a file name.
_ADDRESS = re.compile(r"^(localhost|[\w-]+(\.[\w-]+)+)(:\d+)?(/|:\d+$)", re.IGNORECASE)


def _looks_like_address(source: str) -> bool:
    """ "127.0.0.1:8948/x.xlsx", "docs.google.com/spreadsheets/...": a host written without
    its scheme (asked only once no such file exists)."""
    return bool(_ADDRESS.match(source)) and not source.startswith((".", "/", "~"))


def looks_like_html(data: bytes) -> bool:
    """Whether `data` is a web page (a sign-in or error page served instead of the file)."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        head.startswith(b"<") and b"<html" in data[:4096].lower()
    )


_CHUNK = 256 * 1024  # the most one read of the body returns
# How often the caller's thread looks at the cancel flag and the deadline during a download.
DOWNLOAD_POLL_SECONDS = 0.1


class _Stopped(Exception):
    """The caller gave up on the download (a cancel, the deadline): its thread just ends."""


def _download(
    url: str,
    *,
    timeout: tuple[float, float],
    max_bytes: int,
    deadline: float,
    should_cancel: CancelFn,
    origin: str = SOURCE_SETTING,
) -> bytes:
    """Download in a helper thread; this thread waits, asking `should_cancel()` and watching
    the overall deadline. A read may block up to `timeout[1]`: the helper then ends on its own
    (it stops at its next chunk), but the caller is not kept waiting for it."""
    outcome: dict[str, Any] = {}
    stop = threading.Event()

    def work() -> None:
        try:
            outcome["data"] = _download_body(
                url, timeout=timeout, max_bytes=max_bytes, stop=stop, origin=origin
            )
        except _Stopped:
            pass
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    helper = threading.Thread(target=work, name="workbook-download", daemon=True)
    helper.start()
    ends = time.monotonic() + deadline
    try:
        while helper.is_alive():
            helper.join(DOWNLOAD_POLL_SECONDS)
            if not helper.is_alive():
                break
            if should_cancel():
                raise WorkbookCancelled
            if time.monotonic() >= ends:
                raise WorkbookError(
                    WORKBOOK_DOWNLOAD_DEADLINE.format(seconds=deadline, url=display_url(url))
                )
    finally:
        stop.set()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["data"]


def _download_body(
    url: str, *, timeout: tuple[float, float], max_bytes: int, stop: Any, origin: str
) -> bytes:
    # Imported here: the parser (and its benchmark) should not pay for requests' import.
    import requests
    from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError

    shown = display_url(url)
    try:
        with requests.get(
            url,
            stream=True,
            timeout=timeout,
            headers={"User-Agent": "progmetal-catalog (workbook import)"},
        ) as response:
            if stop.is_set():
                raise _Stopped
            status = response.status_code
            if status == 404:
                raise WorkbookError(WORKBOOK_NOT_FOUND.format(url=shown, origin=origin))
            if status in (401, 403):
                raise WorkbookError(WORKBOOK_FORBIDDEN.format(status=status, url=shown))
            if status >= 500:
                raise WorkbookError(WORKBOOK_SERVER_ERROR.format(status=status, url=shown))
            if status >= 400:
                raise WorkbookError(WORKBOOK_HTTP_ERROR.format(status=status, url=shown))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=megabytes(max_bytes)))
            chunks: list[bytes] = []
            received = 0
            # read1, not iter_content: it returns what one socket read brings, so a server that
            # trickles bytes does not hold the stop flag back until a whole chunk has arrived.
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                if stop.is_set():
                    raise _Stopped
                received += len(chunk)
                if received > max_bytes:
                    raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=megabytes(max_bytes)))
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "")
    except requests.exceptions.Timeout as error:
        raise WorkbookError(_timeout_message(error, timeout, shown)) from None
    except ReadTimeoutError as error:
        raise WorkbookError(_timeout_message(error, timeout, shown)) from None
    except (requests.exceptions.ChunkedEncodingError, ProtocolError):
        detail = "the download stopped before the end"
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail)) from None
    except requests.exceptions.ConnectionError as error:
        # requests reports a read timeout during a streamed body as a ConnectionError.
        if _is_read_timeout(error):
            raise WorkbookError(_timeout_message(error, timeout, shown)) from None
        raise WorkbookError(f"{NETWORK_ERROR} ({_network_detail(error, url)})") from None
    except (requests.exceptions.RequestException, HTTPError) as error:
        raise WorkbookError(f"{NETWORK_ERROR} ({type(error).__name__})") from None
    data = b"".join(chunks)
    if "text/html" in content_type and not data.startswith(b"PK"):
        raise WorkbookError(NOT_A_WORKBOOK)
    return data


def _timeout_message(error: Exception, timeout: tuple[float, float], url: str) -> str:
    import requests

    if isinstance(error, requests.exceptions.ConnectTimeout):
        detail = f"no connection within {timeout[0]:g} s"
    else:
        detail = f"no data for {timeout[1]:g} s"
    return WORKBOOK_TIMEOUT.format(detail=detail, url=url)


def _is_read_timeout(error: Exception) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(argument, ReadTimeoutError) for argument in error.args)


def _network_detail(error: Exception, url: str) -> str:
    host = urlsplit(url).hostname or "?"
    text = repr(error)
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return f"cannot resolve {host}"
    if "Connection refused" in text or "ConnectionRefused" in text:
        return f"{host} refused the connection"
    return f"cannot connect to {host}"


def megabytes(count: int) -> str:
    """A byte count for messages: "512 MB"."""
    return f"{count / (1024 * 1024):g} MB"
