"""Download the r/progmetal workbook and parse it into plain rows (no Django models).

`load_workbook(source)` = `fetch_workbook(source)` (an http(s) URL or a local path) then
`parse_workbook(data)`. Every sheet-level failure is a `WorkbookError` whose text tells the user
what to do; row-level problems are `RowWarning`s and never stop the parse.

What openpyxl does: it opens the package and, in read-only mode (it streams each sheet's XML;
never the full load, which builds an object for every cell), gives each cell's value, its formula
text (`=HYPERLINK(...)`, as `data_only=False` keeps formulas) and its fill; it converts date cells,
shared and inline strings. What it does not do in read-only mode is read cell hyperlinks, which
carry most Spotify and Bandcamp links: `_sheet_hyperlinks` reads only those, the sheet's
`<hyperlinks>` element and its relationships part, with zipfile and ElementTree.

What is ours: which tabs and rows are releases, and what their cells mean; and the bounds on
what a file may cost, since anyone who can edit the sheet (or the URL) chooses its bytes:

* The download has an overall deadline (WORKBOOK_DOWNLOAD_TIMEOUT) on top of requests' per-read
  timeout, and a size cap (WORKBOOK_MAX_BYTES). It runs in a helper thread, so the caller sees a
  cancel or the deadline within a fraction of a second even while a read blocks.
* Before openpyxl reads anything, `_check_parts` streams every XML part once: their unpacked
  total must stay under WORKBOOK_MAX_UNPACKED_BYTES (zipfile never yields more than a member's
  declared size, so the declared sizes are checked first, for free) and no run of bytes without
  markup (one cell's text, one shared string, one attribute) may exceed WORKBOOK_MAX_CELL_BYTES:
  openpyxl would hold such a text whole in memory, several times over.
* At most WORKBOOK_MAX_SHARED_STRINGS entries in the shared-strings table, counted in the same
  pass: openpyxl keeps that whole table in memory, about 70 bytes a string however short, so
  500 MB of one-letter strings would take gigabytes and minutes before the first row.
* At most WORKBOOK_MAX_ROWS rows are read over all release tabs (blank rows count: reading
  them costs the same), and text is cut to MAX_TEXT characters as it is read (more than any
  column stores), so neither a long tail of rows nor many long cells make the parse hold more.
* `should_cancel()` is asked between download chunks, between the parts checked, and every
  CANCEL_EVERY_ROWS rows; when it answers True, `WorkbookCancelled` is raised.

Conventions, as the workbook is really written:

* A tab has a release table when one of its first rows has `Artist` in column A and the header
  row also has an `Album` column; other tabs (`Statistics`) are skipped. Columns are found by
  header name. Release rows run from the header to the "Unannounced" block (a row whose first
  cell starts with "Unannounced", as "Unannounced Projects" in the real tabs), or to the sheet's
  last row (older tabs have no such block); blank rows inside are skipped, never an end.
* List and year come from the tab name: "2025 Prog-metal" -> ("prog-metal", 2025),
  "2020 Reissues & Special Release" -> ("reissues", 2020), "2018" -> ("prog-metal", 2018).
  Every row of a reissues tab is a reissue, whatever its fill.
* Dates: a date cell is a day; "March 2025" is the 1st of the month with precision "month";
  "2025" is 1 January with precision "year". With no usable date (empty, "TBA", text we cannot
  read) `release_date` is None and the precision is "year". `year` is the tab's year (the list
  the row is in); a date in another year is kept as written, with a warning (the 2025 tab has
  one "2005-01-30").
* Vocal styles are canonicalised per "/"-separated part: "Mixed " -> "Mixed",
  "Instru./Clean" -> "Instrumental/Clean" (an instrumental record with some clean vocals keeps
  both facts); unknown text is kept as written, trimmed.
* Link cells: the cell hyperlink's URL, else the `=HYPERLINK("url", ...)` formula's, else a bare
  URL. Only http(s) links are kept: another scheme (`javascript:`, `data:`, a bare host) is
  dropped with a warning and the row is kept; a `spotify:album:` URI in the Spotify column is
  read as its album. The Length cell's fill marks a debut (DEBUT_FILL) or a reissue (REISSUE_FILL).
* Spotify links: album links give `spotify_album_id` and a canonical `spotify_url` without
  `?si=`; any other link in the Spotify column (track, artist, playlist, not Spotify) leaves both
  empty, with a warning.
"""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import get_column_letter
from openpyxl.worksheet._reader import FORMULA_TAG as _FORMULA
from openpyxl.worksheet._reader import WorkSheetParser

from catalog.sources import (  # re-exported: the sync and the command name sources from here
    SOURCE_SETTING,
    display_url,
    is_web_source,
    resolve_source,
    source_label,
    source_origin,
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
NOT_AN_XLSX = (
    "The file is not an Excel workbook ({detail}): check that the URL is the sheet's XLSX "
    "export (.../export?format=xlsx)"
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
WORKBOOK_UNPACKED_TOO_LARGE = (
    "The workbook unpacks to more than {limit} (WORKBOOK_MAX_UNPACKED_BYTES): nothing was "
    "imported; check the file, or raise the limit"
)
WORKBOOK_CELL_TOO_LARGE = (
    "The workbook holds a cell or shared string longer than {limit} (WORKBOOK_MAX_CELL_BYTES) "
    "in {part}: nothing was imported; check the file, or raise the limit"
)
WORKBOOK_TOO_MANY_STRINGS = (
    "The workbook's shared-strings table has more than {limit:,} entries "
    "(WORKBOOK_MAX_SHARED_STRINGS): nothing was imported; check the file, or raise the limit"
)
SHARED_STRINGS_PART = "xl/sharedStrings.xml"
WORKBOOK_TOO_MANY_ROWS = (
    "The workbook has more than {limit:,} rows in its release tabs (WORKBOOK_MAX_ROWS): nothing "
    "was imported; check the file, or raise the limit"
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
NO_RELEASE_TABS = (
    "The workbook has no tab with a release table (no row with Artist in column A and an Album "
    "column): check that this is the r/progmetal release workbook"
)

# Row warnings (RowWarning.message). Tests assert on these.
WARN_NON_ALBUM_LINK = "{kind} link where an album link belongs ({url})"  # "a track"
WARN_NOT_SPOTIFY_LINK = "the Spotify column holds a link that is not a Spotify album ({url})"
WARN_DUPLICATE_ROW = "the same release as row {row}: listed twice in this tab"
WARN_NO_DATE = "no release date; kept with the tab's year only"
WARN_UNDATED = "release date {value!r} is not a date; kept with the tab's year only"
WARN_DATE_YEAR = "release date {date} is outside {year}, the tab's year: a typo?"
WARN_LENGTH = "length {value!r} is neither LP nor EP"
WARN_FILL = (
    "the Length cell has fill colour {colour}, neither the debut ({debut}) nor the reissue "
    "({reissue}) colour"
)
WARN_NO_ARTIST = "no artist; row skipped"
WARN_LINK_SCHEME = "the {column} link is not an http(s) address ({scheme}); link dropped"
WARN_NO_TITLE = "no album title"

DEBUT_FILL = "FFFFBA4A"
REISSUE_FILL = "FF96DA77"

LIST_PROG_METAL = "prog-metal"
LIST_PROG_ROCK = "prog-rock"
LIST_REISSUES = "reissues"


class WorkbookError(Exception):
    """The workbook could not be fetched or read. `str(error)` is a message for the user."""


class WorkbookCancelled(Exception):
    """`should_cancel()` answered True while the workbook was fetched or parsed."""


CancelFn = Callable[[], bool]


def never_cancel() -> bool:
    """The cancel check of a run that nobody can cancel."""
    return False


@dataclass(frozen=True, slots=True)
class SheetRow:
    tab: str
    row_number: int
    artist: str
    title: str
    release_date: date | None
    date_precision: str  # "day" | "month" | "year"
    year: int | None
    release_list: str  # "prog-metal" | "prog-rock" | "reissues"
    format: str  # "LP" | "EP" | ""
    is_debut: bool
    is_reissue: bool
    genres: tuple[str, ...]  # as written, trimmed, in order, without empty items
    vocal_style: str  # canonical: "Harsh" | "Clean" | "Mixed" | "Instrumental" | other text | ""
    country: str
    spotify_album_id: str | None
    spotify_url: str
    bandcamp_url: str
    youtube_url: str
    apple_music_url: str
    amazon_url: str


@dataclass(frozen=True, slots=True)
class RowWarning:
    tab: str
    row_number: int
    message: str

    def __str__(self) -> str:
        return f"{self.tab}, row {self.row_number}: {self.message}"


@dataclass(slots=True)
class ParsedWorkbook:
    rows: list[SheetRow] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    tabs: list[str] = field(default_factory=list)  # the tabs that had a release table


# --- Fetching --------------------------------------------------------------------------------


def load_workbook(
    source: str | None = None, *, should_cancel: CancelFn | None = None
) -> ParsedWorkbook:
    """Fetch and parse the workbook at `source` (default: settings.GOOGLE_SHEETS_XLSX_URL)."""
    origin = source_origin(source)
    location = resolve_source(source)
    data = fetch_workbook(location, origin=origin, should_cancel=should_cancel)
    if not is_web_source(location) and data and not data.startswith(b"PK"):
        detail = "a web page" if _looks_like_html(data) else "not a zip archive"
        name = source_label(location)
        raise WorkbookError(NOT_AN_XLSX_FILE.format(name=name, detail=detail, origin=origin))
    return parse_workbook(data, should_cancel=should_cancel)


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
    """Return the workbook's bytes from an http(s) URL or a local path (`file://` too)."""
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
            raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=_megabytes(max_bytes)))
        return path.read_bytes()
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


# A host name (or IP) followed by a port or a slash: "releases.xlsx" alone is a file name.
_ADDRESS = re.compile(r"^(localhost|[\w-]+(\.[\w-]+)+)(:\d+)?(/|:\d+$)", re.IGNORECASE)


def _looks_like_address(source: str) -> bool:
    """ "127.0.0.1:8948/x.xlsx", "docs.google.com/spreadsheets/...": a host written without
    its scheme (asked only once no such file exists)."""
    return bool(_ADDRESS.match(source)) and not source.startswith((".", "/", "~"))


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        head.startswith(b"<") and b"<html" in data[:4096].lower()
    )


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
    import threading
    import time

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
                raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=_megabytes(max_bytes)))
            chunks: list[bytes] = []
            received = 0
            # read1, not iter_content: it returns what one socket read brings, so a server that
            # trickles bytes does not hold the stop flag back until a whole chunk has arrived.
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                if stop.is_set():
                    raise _Stopped
                received += len(chunk)
                if received > max_bytes:
                    raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=_megabytes(max_bytes)))
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
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or "?"
    text = repr(error)
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return f"cannot resolve {host}"
    if "Connection refused" in text or "ConnectionRefused" in text:
        return f"{host} refused the connection"
    return f"cannot connect to {host}"


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB"


# --- Parsing ---------------------------------------------------------------------------------

CANCEL_EVERY_ROWS = 200  # rows read between two looks at the cancel flag
_HEADER_SEARCH_ROWS = 40  # the header is on row 5 or 6; a tab without one by here has no table
_DIGITS = "0123456789"
_LINK_KEYS = frozenset({"bandcamp", "spotify", "youtube", "amazon", "apple_music", "google_play"})
_MISSING_PART = re.compile(r"There is no item named '([^']+)' in the archive")


def parse_workbook(data: bytes, *, should_cancel: CancelFn | None = None) -> ParsedWorkbook:
    """Parse every tab with a release table; row problems become warnings, never failures.

    Raises WorkbookError for a file past the unpacked-size or cell-size caps (checked before
    openpyxl reads anything) and WorkbookCancelled when `should_cancel()` answers True.
    """
    cancel = should_cancel or never_cancel
    reader = _open_package(data)
    try:
        _check_parts(reader.archive, cancel)
        _read_book(reader)
        return _Workbook(reader, cancel).parse()
    except (zipfile.BadZipFile, zlib.error, EOFError, ElementTree.ParseError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    finally:
        reader.archive.close()


def _open_package(data: bytes) -> ExcelReader:
    """openpyxl's reader with the zip package open, nothing read from it yet."""
    if _looks_like_html(data):
        raise WorkbookError(NOT_A_WORKBOOK)
    if not data:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail="the file is empty"))
    if not data.startswith(b"PK"):
        raise WorkbookError(NOT_AN_XLSX.format(detail="not a zip archive"))
    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    if "[Content_Types].xml" not in reader.archive.NameToInfo:
        reader.archive.close()
        raise WorkbookError(NOT_AN_XLSX.format(detail="a zip archive without a workbook part"))
    return reader


def _check_parts(package: zipfile.ZipFile, cancel: CancelFn) -> None:
    """Enforce WORKBOOK_MAX_UNPACKED_BYTES and WORKBOOK_MAX_CELL_BYTES over the XML parts, by
    streaming each once in chunks (see the module docstring)."""
    from django.conf import settings

    max_unpacked = int(settings.WORKBOOK_MAX_UNPACKED_BYTES)
    max_cell = int(settings.WORKBOOK_MAX_CELL_BYTES)
    max_strings = int(settings.WORKBOOK_MAX_SHARED_STRINGS)
    parts = [info for info in package.infolist() if info.filename.endswith((".xml", ".rels"))]
    if sum(info.file_size for info in parts) > max_unpacked:
        raise WorkbookError(WORKBOOK_UNPACKED_TOO_LARGE.format(limit=_megabytes(max_unpacked)))
    # Chunks no longer than the cap: a run inside one chunk cannot pass it, so only the runs
    # that cross chunk boundaries are counted (two byte searches a chunk, no split).
    size = max(1, min(_CHUNK, max_cell))
    unpacked = 0
    for info in parts:
        if cancel():
            raise WorkbookCancelled
        run = 0  # bytes since the last "<" (text, or the inside of a tag)
        strings, tail = 0, b""  # <si> entries so far; the chunk's end, for one cut in two
        counts_strings = info.filename == SHARED_STRINGS_PART
        with package.open(info) as stream:
            while chunk := stream.read(size):
                if counts_strings:
                    # The last two bytes go round again: an "<si" cut by the chunk's end is
                    # counted once, and those two bytes alone can never hold one.
                    strings += (tail + chunk).count(b"<si")
                    tail = chunk[-2:]
                    if strings > max_strings:
                        raise WorkbookError(WORKBOOK_TOO_MANY_STRINGS.format(limit=max_strings))
                unpacked += len(chunk)
                if unpacked > max_unpacked:
                    limit = _megabytes(max_unpacked)
                    raise WorkbookError(WORKBOOK_UNPACKED_TOO_LARGE.format(limit=limit))
                first = chunk.find(b"<")
                if first == -1:
                    longest = run = run + len(chunk)
                else:
                    longest = run + first  # the run that ends at this chunk's first "<"
                    run = len(chunk) - chunk.rfind(b"<") - 1
                if max(longest, run) > max_cell:
                    raise WorkbookError(
                        WORKBOOK_CELL_TOO_LARGE.format(limit=_size(max_cell), part=info.filename)
                    )
                if cancel():
                    raise WorkbookCancelled


def _size(count: int) -> str:
    return f"{count / 1024:g} KB" if count < 1024 * 1024 else _megabytes(count)


def _read_book(reader: ExcelReader) -> None:
    """Run the steps of openpyxl's reader that give what the rows need: the shared strings,
    the date system and formats, the cell styles and fills, and the list of sheets.

    Not the whole `load_workbook(read_only=True)`: that also parses each sheet's relationships
    part whole (a hostile one can be huge; `_sheet_hyperlinks` streams it), reads each sheet's
    dimensions, and silently drops a sheet whose part is missing (a damaged file here).
    """
    from openpyxl.styles.stylesheet import apply_stylesheet

    try:
        with warnings.catch_warnings():  # "unknown extension" and the like: not our business
            warnings.simplefilter("ignore")
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
    except KeyError as error:
        missing = _MISSING_PART.search(str(error))
        detail = f"the part {missing.group(1)} is missing" if missing else "a part is missing"
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail)) from None
    except (ValueError, TypeError) as error:  # a value openpyxl's descriptors refuse
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None


def _damage_detail(error: BaseException) -> str:
    if isinstance(error, ElementTree.ParseError):
        return f"broken XML: {error}"
    if isinstance(error, zlib.error | EOFError):
        return "compressed data is cut short or corrupt"
    return str(error) or type(error).__name__


# One row's cells as openpyxl's parser gives them, by column number (1 = A): each a dict with
# "value", "data_type" ("s", "n", "d", "f" for a formula, "e" for an error...) and "style_id".
Cells = dict[int, dict[str, Any]]


class _SheetParser(WorkSheetParser):
    """openpyxl's own parser of a sheet part (what its read-only sheets run), told which columns
    to read once the header is known.

    The real tabs format empty cells far to the right of the table (M:Z on every row); reading
    them was most of the parse and none of the result. A cell is dropped before openpyxl reads it
    when it names a column outside `columns` (r="M11") and holds no formula (a shared formula's
    first cell carries the text that later cells reuse). A row with a cell that does not name its
    column is read whole: there, a cell's column is its position.
    """

    def __init__(self, source: Any, reader: ExcelReader) -> None:
        book: Any = reader.wb  # its date settings have no public names
        super().__init__(
            source,
            reader.shared_strings,
            data_only=False,  # formulas stay formulas: =HYPERLINK("url", ...) is a link
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        self.columns: frozenset[str] | None = None  # None: every column (the header search)

    def parse_row(self, row: Any) -> tuple[int, list[dict[str, Any]]]:
        if self.columns is not None:
            kept = []
            for cell in row:
                ref = cell.get("r")
                if ref is None:
                    break  # keep the row whole
                if ref.rstrip(_DIGITS) in self.columns or cell.find(_FORMULA) is not None:
                    kept.append(cell)
            else:
                row[:] = kept
        return super().parse_row(row)

    def rows(self) -> Iterator[tuple[int, Cells]]:
        for row_number, cells in self.parse():
            yield row_number, {cell["column"]: cell for cell in cells}


class _Workbook:
    """One parse: openpyxl's reader and its zip package, plus caches shared by the tabs."""

    def __init__(self, reader: ExcelReader, cancel: CancelFn = never_cancel) -> None:
        from django.conf import settings

        self.reader = reader
        self.book: Any = reader.wb  # read below through openpyxl's private style tables
        self.package = reader.archive
        self.cancel = cancel
        self.rows_left = int(settings.WORKBOOK_MAX_ROWS)
        self.genres: dict[str, tuple[str, ...]] = {}
        self.vocals: dict[str, str] = {}

    def parse(self) -> ParsedWorkbook:
        result = ParsedWorkbook()
        for sheet, rel in self.reader.parser.find_sheets():
            if "chartsheet" in rel.Type:
                continue  # a chart holds no table
            if rel.target not in self.package.NameToInfo:
                detail = f"the part {rel.target} is missing"
                raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail))
            if self.parse_sheet(sheet.name, rel.target, result):
                result.tabs.append(sheet.name)
        if not result.tabs:
            raise WorkbookError(NO_RELEASE_TABS)
        return result

    def parse_sheet(self, tab: str, member: str, result: ParsedWorkbook) -> bool:
        with self.package.open(member) as source:
            parser = _SheetParser(source, self.reader)
            rows = parser.rows()
            header = _find_header(rows)
            if header is None:
                return False
            parser.columns = frozenset(map(get_column_letter, header.columns))
            links = _sheet_hyperlinks(
                self.package,
                member,
                set(header.letters.values()),
                self.cancel,
                max_row=header.row_number + self.rows_left,  # rows past it are never read
            )
            builder = _TabBuilder(self, tab, header, links, result)
            last = header.row_number
            for read, (row_number, cells) in enumerate(rows, start=1):
                if read % CANCEL_EVERY_ROWS == 0 and self.cancel():
                    raise WorkbookCancelled
                if row_number <= last:
                    continue  # out of order or repeated: openpyxl's read-only sheets skip these
                # Rows the part leaves out count as blank rows, as openpyxl would yield them.
                self.rows_left -= row_number - last
                last = row_number
                if self.rows_left < 0:
                    from django.conf import settings

                    limit = int(settings.WORKBOOK_MAX_ROWS)
                    raise WorkbookError(WORKBOOK_TOO_MANY_ROWS.format(limit=limit))
                if _is_unannounced(cells):
                    break
                values = [_value(cells, column) for column in header.columns]
                if _is_blank(values):
                    continue  # a gap inside the table (or before the Unannounced block)
                fill = self.fill_colour(cells.get(header.length_column))
                builder.add(row_number, values, fill)
        result.warnings.extend(builder.warnings)
        return True

    def fill_colour(self, cell: dict[str, Any] | None) -> str | None:
        """The Length cell's solid fill colour ("FFRRGGBB"), None when unfilled or themed."""
        if not cell:
            return None
        # openpyxl's own style tables, as its read-only cells look a fill up (no public name)
        style = self.book._cell_styles[cell["style_id"]]
        fill = self.book._fills[style.fillId]
        if fill is None or fill.patternType in (None, "none"):
            return None
        colour = fill.fgColor
        if colour is None or colour.type != "rgb" or not isinstance(colour.rgb, str):
            return None
        return colour.rgb.upper().rjust(8, "F")

    def to_date(self, serial: float) -> date:
        from openpyxl.utils.datetime import from_excel

        return from_excel(serial, self.book.epoch).date()


@dataclass(slots=True)
class _Header:
    row_number: int
    columns: list[int]  # the columns kept, 1-based; each row's values follow this order
    slots: dict[str, int]  # field key ("artist", "spotify"...) -> position in the values
    letters: dict[str, str]  # link field key -> its column letters ("I")
    length_column: int  # 0 when the tab has no Length column


def _find_header(rows: Iterator[tuple[int, Cells]]) -> _Header | None:
    """The first row with `Artist` in column A (searched in the first rows only)."""
    for row_number, cells in rows:
        if row_number > _HEADER_SEARCH_ROWS:
            break
        first = _value(cells, 1)
        if isinstance(first, str) and first.strip().casefold() == "artist":
            return _read_header(row_number, cells)
    return None


def _read_header(row_number: int, cells: Cells) -> _Header | None:
    header = _Header(row_number, [], {}, {}, 0)
    for column in sorted(cells):
        name = _value(cells, column)
        key = _header_key(name) if isinstance(name, str) else ""
        if not key or key in header.slots:  # the first column of a name wins
            continue
        header.slots[key] = len(header.columns)
        header.columns.append(column)
        if key in _LINK_KEYS:
            header.letters[key] = get_column_letter(column)
        elif key == "length":
            header.length_column = column
    if "artist" not in header.slots or "album" not in header.slots:
        return None
    return header


def _value(cells: Cells, column: int) -> Any:
    """A cell's value as the rules below expect it: error cells (#REF!, #N/A) hold none."""
    cell = cells.get(column)
    if cell is None or cell["data_type"] == "e":
        return None
    value = cell["value"]
    return value.date() if isinstance(value, datetime) else value


def _is_unannounced(cells: Cells) -> bool:
    """Whether the row starts the "Unannounced Projects" block (in column A, or B)."""
    for column in (1, 2):
        value = _value(cells, column)
        if isinstance(value, str) and value.strip().casefold().startswith("unannounced"):
            return True
    return False


def _is_blank(values: list[Any]) -> bool:
    for value in values:
        if value is not None and (not isinstance(value, str) or value.strip()):
            return False
    return True


# --- Cell hyperlinks: the one part openpyxl's read-only mode does not read ------------------

_HYPERLINKS_START = re.compile(rb"<(?:\w+:)?hyperlinks[\s>]")
_HYPERLINK = re.compile(rb"<(?:\w+:)?hyperlink\s([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(r"([A-Z]+)(\d+)")
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_CHUNK = 256 * 1024


def _sheet_hyperlinks(
    package: zipfile.ZipFile,
    member: str,
    letters: set[str],
    cancel: CancelFn = never_cancel,
    max_row: int = 2**31,
) -> dict[str, str]:
    """Cell ref ("I7") -> URL, for the cell hyperlinks in the columns `letters` up to `max_row`.

    Both parts are streamed, and only the links of those cells are kept: what this holds does
    not grow with the size of a hostile part.
    """
    wanted: dict[str, str] = {}  # cell ref -> relationship id
    for attributes in _hyperlink_tags(package, member, cancel):
        relationship = attributes.get("id", "")
        for ref in _expand_ref(attributes.get("ref", ""), max_row):
            if relationship and ref.rstrip("0123456789") in letters:
                wanted[ref] = relationship
    if not wanted:
        return {}
    targets = _hyperlink_targets(package, member, set(wanted.values()))
    found: dict[str, str] = {}
    for ref, relationship in wanted.items():
        target = targets.get(relationship, "").strip()
        if target:
            found[ref] = target
    return found


def _hyperlink_tags(
    package: zipfile.ZipFile, member: str, cancel: CancelFn
) -> Iterator[dict[str, str]]:
    """The attributes of each <hyperlink> of the sheet, found by streaming the part.

    <hyperlinks> sits after <sheetData>; a literal "<hyperlinks" can only be markup (text
    escapes "<"), so a byte search finds it without parsing the rows a second time.
    """
    started = False
    carry = b""
    with package.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            if cancel():
                raise WorkbookCancelled
            window = carry + chunk
            if not started:
                at = _hyperlinks_start(window)
                if at == -1:
                    carry = window[-32:]  # a start tag split between two chunks
                    continue
                started = True
                window = window[at:]
            end = 0
            for match in _HYPERLINK.finditer(window):
                end = match.end()
                yield {
                    name.decode().rpartition(":")[2]: (double or single).decode()
                    for name, double, single in _ATTRIBUTE.findall(match.group(1))
                }
            rest = window[end:]
            cut = rest.rfind(b"<")  # a tag split between two chunks (at most one cell long)
            carry = rest[cut:] if cut != -1 else b""


def _hyperlinks_start(window: bytes) -> int:
    """Where the <hyperlinks> start tag begins in `window`, or -1.

    A byte search for the name first (a regular expression would try every "<" of the rows:
    seconds on a large sheet), then the tag around it.
    """
    at = window.find(b"hyperlinks")
    while at != -1:
        opening = window.rfind(b"<", max(0, at - 16), at)
        if opening != -1 and _HYPERLINKS_START.match(window, opening):
            return opening
        at = window.find(b"hyperlinks", at + 1)
    return -1


def _hyperlink_targets(package: zipfile.ZipFile, member: str, wanted: set[str]) -> dict[str, str]:
    """Relationship id -> URL from the sheet's relationships part, for the `wanted` ids."""
    folder, name = posixpath.split(member)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels not in package.NameToInfo:
        return {}
    targets: dict[str, str] = {}
    root = None
    with package.open(rels) as stream:
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            if root is None:
                root = element
                continue
            if event != "end" or element.tag != _RELATIONSHIP:
                continue
            relationship = element.get("Id", "")
            if relationship in wanted and element.get("Type", "").endswith("/hyperlink"):
                targets[relationship] = element.get("Target", "")[:MAX_TEXT]
            root.clear()  # a Relationship is a leaf of the root: keep none of them
    return targets


def _expand_ref(ref: str, max_row: int = 2**31) -> Iterator[str]:
    """ "I7" -> I7; "I7:I9" -> I7, I8, I9 (a range within one column, up to `max_row`)."""
    if ":" not in ref:
        yield ref
        return
    first, _, last = ref.partition(":")
    start, stop = _REF.fullmatch(first), _REF.fullmatch(last)
    if not start or not stop or start.group(1) != stop.group(1):
        yield first
        return
    for row in range(int(start.group(2)), min(int(stop.group(2)), max_row) + 1):
        yield f"{start.group(1)}{row}"


# --- From raw cells to SheetRows --------------------------------------------------------------

_HEADER_ALIASES = {
    "artist": "artist",
    "album": "album",
    "release date": "release_date",
    "date": "release_date",
    "length": "length",
    "genre / subgenres": "genres",
    "genre/subgenres": "genres",
    "genres / subgenres": "genres",
    "genre": "genres",
    "genres": "genres",
    "vocal style": "vocal_style",
    "vocals": "vocal_style",
    "country / state": "country",
    "country/state": "country",
    "country": "country",
    "bandcamp": "bandcamp",
    "spotify": "spotify",
    "youtube": "youtube",
    "amazon": "amazon",
    "apple music": "apple_music",
    "google play": "google_play",
}


def _header_key(name: str) -> str:
    return _HEADER_ALIASES.get(" ".join(name.casefold().split()), "")


_SPOTIFY_LINK = re.compile(
    r"(?:https?://)?(?:open|play)\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]{2})?/)?(?:embed/)?"
    r"([a-z]+)/([0-9A-Za-z]{22})(?![0-9A-Za-z])"
    r"|spotify:([a-z]+):([0-9A-Za-z]{22})$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):\S")
_WEB_URL = re.compile(r"https?://[^\s/?#]+", re.IGNORECASE)
_COLUMN_NAMES = {
    "bandcamp": "Bandcamp",
    "spotify": "Spotify",
    "youtube": "YouTube",
    "amazon": "Amazon",
    "apple_music": "Apple Music",
    "google_play": "Google Play",
}
_HYPERLINK_FORMULA = re.compile(r'\s*=?\s*HYPERLINK\s*\(\s*"((?:[^"]|"")*)"', re.IGNORECASE)
_TAB_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")

_VOCAL_PARTS = {
    "harsh": "Harsh",
    "clean": "Clean",
    "mixed": "Mixed",
    "instrumental": "Instrumental",
    "instru.": "Instrumental",
    "instru": "Instrumental",
    "instr.": "Instrumental",
    "inst.": "Instrumental",
}

_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES.split(), start=1)}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_UNKNOWN_DATES = {"tba", "tbd", "tbc", "?", "unknown", "n/a", "-"}
_DATE_TOKEN = re.compile(r"[a-z]+|\d+")
_ORDINAL = re.compile(r"(\d)(?:st|nd|rd|th)\b")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[T ].*)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")


def tab_list_and_year(tab: str) -> tuple[str, int | None]:
    """("prog-metal" | "prog-rock" | "reissues", year) from a tab name such as "2025 Prog-rock"."""
    name = tab.casefold()
    match = _TAB_YEAR.search(name)
    year = int(match.group(1)) if match else None
    if "reissue" in name or "special" in name:
        return LIST_REISSUES, year
    if "rock" in name:
        return LIST_PROG_ROCK, year
    return LIST_PROG_METAL, year


def canonical_vocal_style(text: str) -> str:
    """ "Mixed " -> "Mixed", "instru./clean" -> "Instrumental/Clean"; unknown text as written."""
    parts = [" ".join(part.split()) for part in text.split("/")]
    parts = [part for part in parts if part]
    return "/".join(_VOCAL_PARTS.get(part.casefold(), part) for part in parts)


def split_genres(text: str) -> tuple[str, ...]:
    """Comma-separated genres, trimmed, in order, without empty items or repeats."""
    items = (" ".join(item.split()) for item in text.split(","))
    return tuple(dict.fromkeys(item for item in items if item))


def spotify_album(url: str) -> tuple[str | None, str | None]:
    """(album id, None) for an album link, (None, kind) for another Spotify link, (None, "")
    for anything else."""
    match = _SPOTIFY_LINK.match(url.strip())
    if not match:
        return None, ""
    kind = (match.group(1) or match.group(3)).lower()
    if kind != "album":
        return None, kind
    return match.group(2) or match.group(4), None


def parse_date_text(text: str, tab_year: int | None) -> tuple[date, str] | None:
    """(date, precision) for "March 2025", "2025", "March 14, 2025", "2025-03-14", "3/14/2025";
    None when the text is not a date."""
    value = text.strip().casefold()
    try:
        if value.isdigit() and len(value) == 4:
            return date(int(value), 1, 1), "year"
        if match := _ISO_DATE.fullmatch(value):
            year, month, day = match.groups()
            if day:
                return date(int(year), int(month), int(day)), "day"
            return date(int(year), int(month), 1), "month"
        if match := _US_DATE.fullmatch(value):
            month, day, year = match.groups()
            full_year = int(year) + 2000 if len(year) == 2 else int(year)
            return date(full_year, int(month), int(day)), "day"
        return _month_name_date(value, tab_year)
    except ValueError:  # 31 February and the like
        return None


def _month_name_date(value: str, tab_year: int | None) -> tuple[date, str] | None:
    month = day = year = None
    for token in _DATE_TOKEN.findall(_ORDINAL.sub(r"\1", value)):
        if token.isdigit():
            if len(token) == 4 and year is None:
                year = int(token)
            elif len(token) <= 2 and day is None:
                day = int(token)
            else:
                return None
        elif token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token != "of":
            return None
    if month is None:
        return None
    year = year or tab_year
    if year is None:
        return None
    if day is None:
        return date(year, month, 1), "month"
    return date(year, month, day), "day"


MAX_TEXT = 2000  # characters kept of any cell: more than any column of the catalog stores


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[: MAX_TEXT * 2].strip()[:MAX_TEXT]
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an album called "1914" is text, not 1914.0
    return str(value)


class _TabBuilder:
    """Turn one tab's release rows into SheetRows and warnings."""

    def __init__(
        self,
        workbook: _Workbook,
        tab: str,
        header: _Header,
        links: dict[str, str],
        result: ParsedWorkbook,
    ) -> None:
        self.workbook = workbook
        self.tab = tab
        self.header = header
        self.links = links  # cell ref ("I7") -> the cell hyperlink's URL
        self.result = result
        self.release_list, self.year = tab_list_and_year(tab)
        self.slots = header.slots
        self.seen: dict[tuple[str, ...], int] = {}
        self.warnings: list[RowWarning] = []

    def warn(self, row_number: int, message: str) -> None:
        self.warnings.append(RowWarning(self.tab, row_number, message))

    def add(self, row_number: int, values: list[Any], length_fill: str | None) -> None:
        row = self.build_row(row_number, values, length_fill)
        if row is not None:
            self.result.rows.append(row)

    def value(self, values: list[Any], key: str) -> Any:
        slot = self.slots.get(key)
        return values[slot] if slot is not None else None

    def build_row(
        self, row_number: int, values: list[Any], length_fill: str | None
    ) -> SheetRow | None:
        artist = _text(self.value(values, "artist"))
        if not artist:
            self.warn(row_number, WARN_NO_ARTIST)
            return None
        title = _text(self.value(values, "album"))
        if not title:
            self.warn(row_number, WARN_NO_TITLE)
        release_date, precision = self.release_date(row_number, values)
        if release_date and self.year and release_date.year != self.year:
            self.warn(row_number, WARN_DATE_YEAR.format(date=release_date, year=self.year))
        length_format, is_debut, is_reissue = self.length(row_number, values, length_fill)
        spotify_id, spotify_url = self.spotify(row_number, values)
        row = SheetRow(
            tab=self.tab,
            row_number=row_number,
            artist=artist,
            title=title,
            release_date=release_date,
            date_precision=precision,
            year=self.year or (release_date.year if release_date else None),
            release_list=self.release_list,
            format=length_format,
            is_debut=is_debut,
            is_reissue=is_reissue or self.release_list == LIST_REISSUES,
            genres=self.genres(values),
            vocal_style=self.vocal_style(values),
            country=_text(self.value(values, "country")),
            spotify_album_id=spotify_id,
            spotify_url=spotify_url,
            bandcamp_url=self.link(row_number, values, "bandcamp"),
            youtube_url=self.link(row_number, values, "youtube"),
            apple_music_url=self.link(row_number, values, "apple_music"),
            amazon_url=self.link(row_number, values, "amazon"),
        )
        self.check_duplicate(row)
        return row

    def release_date(self, row_number: int, values: list[Any]) -> tuple[date | None, str]:
        value = self.value(values, "release_date")
        if isinstance(value, date):
            return value, "day"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if 1900 <= value <= 2100 and float(value).is_integer():
                return date(int(value), 1, 1), "year"  # a bare year typed as a number
            return self.workbook.to_date(value), "day"  # a serial without a date format
        text = _text(value)
        if not text:
            self.warn(row_number, WARN_NO_DATE)
            return None, "year"
        if text.casefold() not in _UNKNOWN_DATES:
            parsed = parse_date_text(text, self.year)
            if parsed is not None:
                return parsed
        self.warn(row_number, WARN_UNDATED.format(value=text))
        return None, "year"

    def length(
        self, row_number: int, values: list[Any], colour: str | None
    ) -> tuple[str, bool, bool]:
        value = _text(self.value(values, "length"))
        text = value.upper()
        if text not in ("LP", "EP"):
            if text:
                self.warn(row_number, WARN_LENGTH.format(value=value))
            text = ""
        rgb = colour[-6:] if colour else ""
        is_debut = rgb == DEBUT_FILL[-6:]
        is_reissue = rgb == REISSUE_FILL[-6:]
        if colour and not (is_debut or is_reissue) and rgb != "FFFFFF":
            self.warn(
                row_number,
                WARN_FILL.format(colour=colour, debut=DEBUT_FILL, reissue=REISSUE_FILL),
            )
        return text, is_debut, is_reissue

    def genres(self, values: list[Any]) -> tuple[str, ...]:
        text = _text(self.value(values, "genres"))
        cached = self.workbook.genres.get(text)
        if cached is None:
            cached = self.workbook.genres[text] = split_genres(text)
        return cached

    def vocal_style(self, values: list[Any]) -> str:
        text = _text(self.value(values, "vocal_style"))
        cached = self.workbook.vocals.get(text)
        if cached is None:
            cached = self.workbook.vocals[text] = canonical_vocal_style(text)
        return cached

    def link(self, row_number: int, values: list[Any], key: str) -> str:
        """The URL of a link cell (its hyperlink, else its =HYPERLINK formula, else a bare URL),
        only when it is an http(s) address: anything else is dropped with a warning."""
        url = self.raw_link(values, row_number, key)
        if not url or _WEB_URL.match(url):
            return url
        if key == "spotify" and spotify_album(url)[0]:
            return url  # spotify:album:... or open.spotify.com/album/...: stored as https
        match = _SCHEME.match(url)
        scheme = f"{match.group(1).lower()}:" if match else "no scheme"
        column = _COLUMN_NAMES.get(key, key)
        self.warn(row_number, WARN_LINK_SCHEME.format(column=column, scheme=scheme))
        return ""

    def raw_link(self, values: list[Any], row_number: int, key: str) -> str:
        letters = self.header.letters.get(key)
        if letters is None:
            return ""
        target = self.links.get(f"{letters}{row_number}")
        if target:
            return target
        value = values[self.slots[key]]
        if not isinstance(value, str):
            return ""
        value = value[:MAX_TEXT]
        if value.startswith("="):
            match = _HYPERLINK_FORMULA.match(value)
            return match.group(1).replace('""', '"').strip() if match else ""
        text = value.strip()
        # Plain text is a link only when it looks like one ("BC" or "TBA" are labels).
        return text if _SCHEME.match(text) else ""

    def spotify(self, row_number: int, values: list[Any]) -> tuple[str | None, str]:
        url = self.link(row_number, values, "spotify")
        if not url:
            return None, ""
        album_id, other_kind = spotify_album(url)
        if album_id:
            return album_id, f"https://open.spotify.com/album/{album_id}"
        shown = url.partition("?")[0]
        if other_kind:
            article = "an" if other_kind[0] in "aeiou" else "a"
            self.warn(
                row_number, WARN_NON_ALBUM_LINK.format(kind=f"{article} {other_kind}", url=shown)
            )
        else:
            self.warn(row_number, WARN_NOT_SPOTIFY_LINK.format(url=shown))
        return None, ""

    def check_duplicate(self, row: SheetRow) -> None:
        artist, title = (" ".join(text.casefold().split()) for text in (row.artist, row.title))
        keys: list[tuple[str, ...]] = [("name", artist, title)]
        if row.spotify_album_id:
            keys.append(("spotify", row.spotify_album_id))
        for key in keys:
            first = self.seen.get(key)
            if first is not None:
                self.warn(row.row_number, WARN_DUPLICATE_ROW.format(row=first))
                break
        for key in keys:
            self.seen.setdefault(key, row.row_number)
