"""Download the r/progmetal workbook and parse it into plain rows (no Django models).

`load_workbook(source)` = `fetch_workbook(source)` (an http(s) URL or a local path) then
`parse_workbook(data)`. Every sheet-level failure is a `WorkbookError` whose text tells the user
what to do; row-level problems are `RowWarning`s and never stop the parse.

The parser reads the .xlsx package directly (zipfile + expat, streamed member by member) instead
of going through openpyxl: openpyxl's full load builds a cell object for every cell of every tab
(~6 s and ~240 MB for the 17,500-row workbook), and its read-only mode drops the cell hyperlinks
that carry most Spotify and Bandcamp links. What we need is small: shared strings, the fill
colour behind each cell style, each tab's rows from the `Artist` header to the first blank row,
and the tab's `<hyperlinks>` with their relationships.

Conventions, as the workbook is really written (see DESIGN.md, "The workbook, as it really is"):

* A tab has a release table when one of its first rows has `Artist` in column A and the header
  row also has an `Album` column; other tabs (`Statistics`) are skipped.
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
* Spotify links: album links give `spotify_album_id` and a canonical `spotify_url` without
  `?si=`; any other link in the Spotify column (track, artist, playlist, not Spotify) leaves both
  empty, with a warning.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

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
WORKBOOK_NOT_FOUND = (
    "The workbook URL answered 404 Not Found ({url}): the URL is wrong or the sheet no longer "
    "exists; check GOOGLE_SHEETS_XLSX_URL"
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
WORKBOOK_FILE_NOT_FOUND = (
    "Workbook file not found: {path}: check the path in GOOGLE_SHEETS_XLSX_URL or the --file option"
)
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
WARN_NO_TITLE = "no album title"

DEBUT_FILL = "FFFFBA4A"
REISSUE_FILL = "FF96DA77"

LIST_PROG_METAL = "prog-metal"
LIST_PROG_ROCK = "prog-rock"
LIST_REISSUES = "reissues"


class WorkbookError(Exception):
    """The workbook could not be fetched or read. `str(error)` is a message for the user."""


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


def load_workbook(source: str | None = None) -> ParsedWorkbook:
    """Fetch and parse the workbook at `source` (default: settings.GOOGLE_SHEETS_XLSX_URL)."""
    if source is None:
        from django.conf import settings

        source = str(settings.GOOGLE_SHEETS_XLSX_URL)
    return parse_workbook(fetch_workbook(source))


def fetch_workbook(source: str) -> bytes:
    """Return the workbook's bytes from an http(s) URL or a local path (`file://` too)."""
    from django.conf import settings

    max_bytes = int(settings.WORKBOOK_MAX_BYTES)
    if source.startswith(("http://", "https://")):
        return _download(
            source,
            timeout=(settings.WORKBOOK_CONNECT_TIMEOUT, settings.WORKBOOK_READ_TIMEOUT),
            max_bytes=max_bytes,
        )
    path = Path(source.removeprefix("file://")).expanduser()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=_megabytes(max_bytes)))
        return path.read_bytes()
    except FileNotFoundError:
        raise WorkbookError(WORKBOOK_FILE_NOT_FOUND.format(path=path)) from None
    except IsADirectoryError:
        raise WorkbookError(
            WORKBOOK_FILE_UNREADABLE.format(path=path, detail="it is a directory")
        ) from None
    except OSError as error:
        detail = error.strerror or type(error).__name__
        raise WorkbookError(WORKBOOK_FILE_UNREADABLE.format(path=path, detail=detail)) from None


def _download(url: str, *, timeout: tuple[float, float], max_bytes: int) -> bytes:
    # Imported here: the parser (and its benchmark) should not pay for requests' import.
    import requests

    shown = _display_url(url)
    try:
        with requests.get(
            url,
            stream=True,
            timeout=timeout,
            headers={"User-Agent": "progmetal-catalog (workbook import)"},
        ) as response:
            status = response.status_code
            if status == 404:
                raise WorkbookError(WORKBOOK_NOT_FOUND.format(url=shown))
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
            for chunk in response.iter_content(chunk_size=256 * 1024):
                received += len(chunk)
                if received > max_bytes:
                    raise WorkbookError(WORKBOOK_TOO_LARGE.format(limit=_megabytes(max_bytes)))
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "")
    except requests.exceptions.Timeout as error:
        raise WorkbookError(_timeout_message(error, timeout, shown)) from None
    except requests.exceptions.ChunkedEncodingError:
        detail = "the download stopped before the end"
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail)) from None
    except requests.exceptions.ConnectionError as error:
        # requests reports a read timeout during a streamed body as a ConnectionError.
        if _is_read_timeout(error):
            raise WorkbookError(_timeout_message(error, timeout, shown)) from None
        raise WorkbookError(f"{NETWORK_ERROR} ({_network_detail(error, url)})") from None
    except requests.exceptions.RequestException as error:
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


def _display_url(url: str) -> str:
    """The URL without credentials, query string or fragment: messages must not leak secrets."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB"


# --- Parsing ---------------------------------------------------------------------------------


def parse_workbook(data: bytes) -> ParsedWorkbook:
    """Parse every tab with a release table; row problems become warnings, never failures."""
    package = _open_package(data)
    try:
        return _Workbook(package).parse()
    except (zipfile.BadZipFile, zlib.error, EOFError, expat.ExpatError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    finally:
        package.close()


def _open_package(data: bytes) -> zipfile.ZipFile:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        head.startswith(b"<") and b"<html" in data[:4096].lower()
    ):
        raise WorkbookError(NOT_A_WORKBOOK)
    if not data:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail="the file is empty"))
    if not data.startswith(b"PK"):
        raise WorkbookError(NOT_AN_XLSX.format(detail="not a zip archive"))
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None


def _damage_detail(error: BaseException) -> str:
    if isinstance(error, expat.ExpatError):
        return f"broken XML: {expat.ErrorString(error.code)}"
    if isinstance(error, zlib.error | EOFError):
        return "compressed data is cut short or corrupt"
    return str(error) or type(error).__name__


_CHUNK = 64 * 1024
_HEADER_SEARCH_ROWS = 40  # the header is on row 5 or 6; a tab without one by here has no table


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _stream_xml(
    package: zipfile.ZipFile,
    member: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Feed one package member to expat in chunks, so no whole part sits in memory."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    if member not in package.NameToInfo:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=f"the part {member} is missing"))
    with package.open(member) as stream:
        _feed(parser, stream)


def _feed(parser: Any, stream: IO[bytes]) -> None:
    while chunk := stream.read(_CHUNK):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _relationships(
    package: zipfile.ZipFile, part: str, only: set[str] | None = None
) -> dict[str, tuple[str, str]]:
    """Id -> (type, target) for `part`'s relationships (only the ids in `only` when given).

    The type is the last segment of the relationship type URI ("worksheet", "hyperlink");
    internal targets are resolved to package member names.
    """
    folder, name = posixpath.split(part)
    rels_member = posixpath.join(folder, "_rels", f"{name}.rels")
    found: dict[str, tuple[str, str]] = {}
    if rels_member not in package.NameToInfo:
        return found
    kinds: dict[str, str] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        rel_id = attrs.get("Id")
        if rel_id is None or (only is not None and rel_id not in only):
            return
        target = attrs.get("Target", "")
        if attrs.get("TargetMode") != "External":
            target = _resolve(folder, target)
        uri = attrs.get("Type", "")
        kind = kinds.get(uri)
        if kind is None:
            kind = kinds[uri] = uri.rpartition("/")[2]
        found[rel_id] = (kind, target)

    _stream_xml(package, rels_member, start)
    return found


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


@dataclass(slots=True)
class _Sheet:
    name: str
    member: str


class _Workbook:
    """Reads the package-level parts once, then each sheet in turn."""

    def __init__(self, package: zipfile.ZipFile) -> None:
        self.package = package
        self.date1904 = False
        self.sheets: list[_Sheet] = []
        self.shared_strings: list[str] = []
        self.fills: list[str | None] = []  # cell style (xf) index -> fill colour "FFRRGGBB"
        self.dates: dict[float, date] = {}
        self.genres: dict[str, tuple[str, ...]] = {}
        self.vocals: dict[str, str] = {}

    def parse(self) -> ParsedWorkbook:
        workbook_part = self._workbook_part()
        relationships = self._read_workbook(workbook_part)
        for kind, target in relationships.values():
            if kind == "sharedStrings":
                self.shared_strings = _read_shared_strings(self.package, target)
            elif kind == "styles":
                self.fills = _read_style_fills(self.package, target)
        result = ParsedWorkbook()
        for sheet in self.sheets:
            if self._parse_sheet(sheet, result):
                result.tabs.append(sheet.name)
        if not result.tabs:
            raise WorkbookError(NO_RELEASE_TABS)
        return result

    def _workbook_part(self) -> str:
        for kind, target in _relationships(self.package, "").values():
            if kind == "officeDocument":
                return target
        if "xl/workbook.xml" in self.package.NameToInfo:
            return "xl/workbook.xml"
        raise WorkbookError(NOT_AN_XLSX.format(detail="a zip archive without a workbook part"))

    def _read_workbook(self, part: str) -> dict[str, tuple[str, str]]:
        relationships = _relationships(self.package, part)
        listed: list[tuple[str, str]] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "sheet":
                rel_id = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                listed.append((attrs.get("name", ""), rel_id))
            elif local == "workbookPr":
                self.date1904 = attrs.get("date1904", "0").lower() in ("1", "true")

        _stream_xml(self.package, part, start)
        for name, rel_id in listed:
            kind, target = relationships.get(rel_id, ("", ""))
            if kind == "worksheet":  # chartsheets and dialog sheets hold no table
                self.sheets.append(_Sheet(name=name, member=target))
        return relationships

    def _parse_sheet(self, sheet: _Sheet, result: ParsedWorkbook) -> bool:
        scan = _scan_sheet(self.package, sheet.member, self.shared_strings)
        if scan is None:
            return False
        targets = _hyperlink_targets(self.package, sheet.member, scan.hyperlinks)
        _TabBuilder(self, sheet.name, scan, targets, result).build()
        return True

    def to_date(self, serial: float) -> date:
        cached = self.dates.get(serial)
        if cached is None:
            if self.date1904:
                cached = date(1904, 1, 1) + timedelta(days=int(serial))
            elif serial < 60:  # Excel counts a 29 February 1900 that never was
                cached = date(1899, 12, 31) + timedelta(days=int(serial))
            else:
                cached = date(1899, 12, 30) + timedelta(days=int(serial))
            self.dates[serial] = cached
        return cached


def _read_shared_strings(package: zipfile.ZipFile, member: str) -> list[str]:
    strings: list[str] = []
    parts: list[str] = []
    state = {"in_t": False, "phonetic": False}

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = _local(tag)
        if local == "t":
            state["in_t"] = not state["phonetic"]
        elif local == "si":
            parts.clear()
        elif local == "rPh":  # phonetic guide text is not part of the value
            state["phonetic"] = True

    def end(tag: str) -> None:
        local = _local(tag)
        if local == "t":
            state["in_t"] = False
        elif local == "si":
            strings.append("".join(parts))
        elif local == "rPh":
            state["phonetic"] = False

    def text(data: str) -> None:
        if state["in_t"]:
            parts.append(data)

    if member in package.NameToInfo:
        _stream_xml(package, member, start, end, text)
    return strings


def _read_style_fills(package: zipfile.ZipFile, member: str) -> list[str | None]:
    """Cell style index -> the fill's foreground colour ("FFRRGGBB"), None when unfilled."""
    fills: list[str | None] = []
    xf_fill_ids: list[int] = []
    state = {"section": "", "pattern": ""}

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = _local(tag)
        section = state["section"]
        if local in ("fills", "cellXfs", "cellStyleXfs", "dxfs"):
            state["section"] = local
        elif section == "fills":
            if local == "fill":
                fills.append(None)
            elif local == "patternFill":
                state["pattern"] = attrs.get("patternType", "")
            elif local == "fgColor" and state["pattern"] not in ("", "none") and fills:
                rgb = attrs.get("rgb")
                if rgb:
                    fills[-1] = rgb.upper().rjust(8, "F")
        elif section == "cellXfs" and local == "xf":
            xf_fill_ids.append(int(attrs.get("fillId", "0") or 0))

    def end(tag: str) -> None:
        if _local(tag) == state["section"]:
            state["section"] = ""

    if member in package.NameToInfo:
        _stream_xml(package, member, start, end)
    return [fills[index] if index < len(fills) else None for index in xf_fill_ids]


@dataclass(slots=True)
class _SheetScan:
    header_row: int
    header: dict[int, str]  # column index (1-based) -> header text
    slots: dict[str, int]  # field key ("artist", "spotify"...) -> position in each row's values
    letters: dict[str, str]  # link field key -> its column letters ("I")
    # The release rows before the first blank row: (row number, values, Length cell style).
    # A link column holds "=" + the formula when the cell has one (the URL is in it).
    rows: list[tuple[int, list[Any], int]]
    hyperlinks: dict[str, str]  # cell ref ("I7") -> relationship id, link columns only


class _NoTable(Exception):
    pass


_DIGITS = "0123456789"
_TAGS = {"c": 1, "v": 2, "f": 3, "t": 4, "row": 5, "hyperlink": 6}
_LINK_KEYS = frozenset({"bandcamp", "spotify", "youtube", "amazon", "apple_music", "google_play"})


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index


def _scan_sheet(package: zipfile.ZipFile, member: str, sst: list[str]) -> _SheetScan | None:
    """Stream one sheet: find the header, keep the release rows' values, collect hyperlinks.

    Once the header is known only its columns are kept, one short list per row, and nothing
    after the first blank row: memory stays proportional to the release table.
    """
    kinds: dict[str, int] = {}
    column_of: dict[str, int] = {}
    rows: list[tuple[int, list[Any], int]] = []
    hyperlinks: dict[str, str] = {}
    header: dict[int, str] = {}
    slots: dict[str, int] = {}
    position: dict[int, int] = {}  # column index -> position in the row's values
    link_columns: set[int] = set()
    link_letters: dict[str, str] = {}
    length_column = 0
    header_row = 0
    finished = False  # past the first blank row after the header
    # The row and cell being read.
    row_number = 0
    column = 0
    preamble: dict[int, Any] = {}  # cells of a row above the header
    values: list[Any] = []
    length_style = 0
    slot: int | None = None
    cell_type = ""
    cell_style = ""
    sink: list[str] | None = None
    value_parts: list[str] = []
    formula_parts: list[str] = []

    def kind_of(tag: str) -> int:
        kind = kinds[tag] = _TAGS.get(_local(tag), -1)
        return kind

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal row_number, column, preamble, values, length_style, slot, cell_type
        nonlocal cell_style, sink
        kind = kinds.get(tag) or kind_of(tag)
        if kind == 1:  # <c>
            ref = attrs.get("r")
            if ref is None:
                column += 1
            else:
                letters = ref.rstrip(_DIGITS)
                index = column_of.get(letters)
                if index is None:
                    index = column_of[letters] = _column_index(letters)
                column = index
            if finished:
                slot = None
            elif header_row:
                slot = position.get(column)
            else:
                slot = column
            if slot is not None:
                cell_type = attrs.get("t", "n")
                cell_style = attrs.get("s", "")
                value_parts.clear()
                formula_parts.clear()
        elif kind == 2 or kind == 4:  # <v>, <t> (inline string text)
            if slot is not None:
                sink = value_parts
        elif kind == 3:  # <f>
            if slot is not None:
                sink = formula_parts
        elif kind == 5:  # <row>
            number = attrs.get("r")
            row_number = int(number) if number else row_number + 1
            column = 0
            if header_row:
                values = [None] * len(position)
                length_style = 0
            else:
                preamble = {}
        elif kind == 6 and link_letters:  # <hyperlink>
            ref = attrs.get("ref", "")
            rel_id = next((v for k, v in attrs.items() if k == "id" or k.endswith(":id")), "")
            for cell in _expand_ref(ref):
                if cell.rstrip(_DIGITS) in link_letters and rel_id:
                    hyperlinks[cell] = rel_id

    def end(tag: str) -> None:
        nonlocal slot, sink, length_style
        kind = kinds.get(tag) or kind_of(tag)
        if kind == 1:
            if slot is None:
                return
            if formula_parts and column in link_columns:
                value = "=" + "".join(formula_parts)
            else:
                value = _cell_value(cell_type, value_parts, sst) if value_parts else None
            if header_row:
                values[slot] = value
                if column == length_column and cell_style:
                    length_style = int(cell_style)
            elif value is not None:
                preamble[column] = value
            slot = None
        elif kind == 2 or kind == 3 or kind == 4:
            sink = None
        elif kind == 5:
            end_row()

    def end_row() -> None:
        nonlocal header_row, finished, length_column
        if finished:
            return
        if header_row:
            expected = rows[-1][0] + 1 if rows else header_row + 1
            if row_number != expected or _is_blank(values):
                finished = True  # a row missing from the XML is a blank row too
            else:
                rows.append((row_number, values, length_style))
            return
        first = preamble.get(1)
        if isinstance(first, str) and first.strip().casefold() == "artist":
            for index, value in sorted(preamble.items()):
                if isinstance(value, str) and value.strip():
                    header[index] = value.strip()
                    key = _header_key(value)
                    if key and key not in slots:  # the first column of a name wins
                        slots[key] = len(position)
                        position[index] = len(position)
                        if key in _LINK_KEYS:
                            link_columns.add(index)
                            link_letters[_column_letters(index)] = key
                        elif key == "length":
                            length_column = index
            if "artist" not in slots or "album" not in slots:
                raise _NoTable
            header_row = row_number
        elif row_number >= _HEADER_SEARCH_ROWS:
            raise _NoTable

    def text(data: str) -> None:
        if sink is not None:
            sink.append(data)

    try:
        _stream_xml(package, member, start, end, text)
    except _NoTable:
        return None
    if not header_row:
        return None
    return _SheetScan(
        header_row=header_row,
        header=header,
        slots=slots,
        letters={key: letters for letters, key in link_letters.items()},
        rows=rows,
        hyperlinks=hyperlinks,
    )


def _cell_value(cell_type: str, parts: list[str], sst: list[str]) -> Any:
    raw = parts[0] if len(parts) == 1 else "".join(parts)
    if cell_type == "s":
        try:
            return sst[int(raw)]
        except (IndexError, ValueError):
            detail = "a cell refers to a shared string that is not there"
            raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail)) from None
    if cell_type in ("str", "inlineStr", "d"):
        return raw
    if cell_type == "b":
        return raw in ("1", "true")
    if cell_type == "e":  # #REF!, #N/A: no value
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


def _is_blank(values: list[Any]) -> bool:
    for value in values:
        if value is not None and (not isinstance(value, str) or value.strip()):
            return False
    return True


def _hyperlink_targets(
    package: zipfile.ZipFile, member: str, hyperlinks: dict[str, str]
) -> dict[str, str]:
    """Relationship id -> URL, for the ids the table's link cells use."""
    if not hyperlinks:
        return {}
    wanted = set(hyperlinks.values())
    return {
        rel_id: target
        for rel_id, (kind, target) in _relationships(package, member, wanted).items()
        if kind == "hyperlink"
    }


_REF = re.compile(r"([A-Z]+)(\d+)")


def _expand_ref(ref: str) -> Iterator[str]:
    """ "I7" -> I7; "I7:I9" -> I7, I8, I9 (a range within one column)."""
    if ":" not in ref:
        yield ref
        return
    first, _, last = ref.partition(":")
    start, stop = _REF.fullmatch(first), _REF.fullmatch(last)
    if not start or not stop or start.group(1) != stop.group(1):
        yield first
        return
    for row in range(int(start.group(2)), int(stop.group(2)) + 1):
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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an album called "1914" is text, not 1914.0
    return str(value)


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


class _TabBuilder:
    """Turn one tab's release rows into SheetRows and warnings."""

    def __init__(
        self,
        workbook: _Workbook,
        tab: str,
        scan: _SheetScan,
        targets: dict[str, str],
        result: ParsedWorkbook,
    ) -> None:
        self.workbook = workbook
        self.tab = tab
        self.scan = scan
        self.targets = targets  # relationship id -> URL
        self.result = result
        self.release_list, self.year = tab_list_and_year(tab)
        self.slots = scan.slots
        self.seen: dict[tuple[str, ...], int] = {}
        self.warnings: list[RowWarning] = []

    def warn(self, row_number: int, message: str) -> None:
        self.warnings.append(RowWarning(self.tab, row_number, message))

    def build(self) -> None:
        rows = self.scan.rows
        for index, (row_number, values, length_style) in enumerate(rows):
            row = self.build_row(row_number, values, length_style)
            if row is not None:
                self.result.rows.append(row)
            rows[index] = _DONE  # let the raw values go as the SheetRows grow
        rows.clear()
        self.result.warnings.extend(self.warnings)

    def value(self, values: list[Any], key: str) -> Any:
        slot = self.slots.get(key)
        return values[slot] if slot is not None else None

    def build_row(self, row_number: int, values: list[Any], length_style: int) -> SheetRow | None:
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
        length_format, is_debut, is_reissue = self.length(row_number, values, length_style)
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
        if isinstance(value, float):
            if 1900 <= value <= 2100 and value.is_integer():
                return date(int(value), 1, 1), "year"  # a bare year typed as a number
            return self.workbook.to_date(value), "day"
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

    def length(self, row_number: int, values: list[Any], style: int) -> tuple[str, bool, bool]:
        value = _text(self.value(values, "length"))
        text = value.upper()
        if text not in ("LP", "EP"):
            if text:
                self.warn(row_number, WARN_LENGTH.format(value=value))
            text = ""
        fills = self.workbook.fills
        colour = fills[style] if style < len(fills) else None
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
        """The URL of a link cell: its hyperlink, else its =HYPERLINK formula, else a bare URL."""
        letters = self.scan.letters.get(key)
        if letters is None:
            return ""
        rel_id = self.scan.hyperlinks.get(f"{letters}{row_number}")
        if rel_id is not None:
            target = self.targets.get(rel_id)
            if target:
                return target.strip()
        value = values[self.slots[key]]
        if not isinstance(value, str):
            return ""
        if value.startswith("="):
            match = _HYPERLINK_FORMULA.match(value)
            return match.group(1).replace('""', '"').strip() if match else ""
        text = value.strip()
        return text if text.startswith(("http://", "https://")) else ""

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


_DONE: tuple[int, list[Any], int] = (0, [], 0)
