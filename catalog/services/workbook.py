"""Read the r/progmetal workbook (XLSX) into plain rows: `load_workbook(source)` fetches it
(`download.py`) and `parse_workbook(data)` reads every tab that has a release table.

What openpyxl does: it opens the package and reads the shared strings, the date system, the
styles and the list of sheets (`ExcelReader`'s own steps), then each sheet's XML with its own
streaming sheet parser (what its read-only mode runs: never the full load, which builds an
object for every cell). That gives each cell's value, its formula text (`=HYPERLINK(...)`: formulas
stay formulas) and its style, from which the Length cell's fill is looked up.

What is ours:

* Which tabs and rows are releases. A tab has a release table when one of its first rows has
  `Artist` in column A and the header row also has an `Album` column; other tabs (`Statistics`)
  are skipped. Release rows run from the header to the "Unannounced" block (a row whose first
  cell starts with "Unannounced", as "Unannounced Projects" in the real tabs), or to the sheet's
  last row (older tabs have no such block); blank rows inside are skipped, never an end. What
  the cells of a release row mean is `release_rows.py`.
* Below the header, only the header's columns (and column B, where the Unannounced marker may
  stand, and cells with a formula) are read: the real tabs format empty cells far to the right
  of the table, and reading them was most of the parse.
* Cell hyperlinks, which carry most Spotify and Bandcamp links and which openpyxl's streaming
  reader does not read: `_sheet_hyperlinks` streams the sheet's `<hyperlinks>` element and its
  relationships part itself, keeping only the links of the header's link columns.
* Bounds on what a file may cost, since anyone who can edit the sheet chooses its bytes (the
  reasons are in docs/architecture.md, "What a workbook may cost"):
  - before openpyxl reads anything, `_check_parts` streams every XML part once: the unpacked
    total stays under WORKBOOK_MAX_UNPACKED_BYTES, no run of bytes without markup (one cell's
    text, one shared string) passes WORKBOOK_MAX_CELL_BYTES, and the shared-strings table has
    at most WORKBOOK_MAX_SHARED_STRINGS entries (openpyxl holds each whole in memory);
  - at most WORKBOOK_MAX_ROWS rows are read over all release tabs (blank rows count: reading
    them costs the same), and text is cut to MAX_TEXT characters as it is read;
  - `should_cancel()` is asked between the parts checked and every CANCEL_EVERY_ROWS rows;
    when it answers True, `WorkbookCancelled` is raised.
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any
from xml.etree import ElementTree

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import get_column_letter
from openpyxl.worksheet._reader import DATA_TAG, FORMULA_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.functions import iterparse

from catalog.services.download import (
    NOT_A_WORKBOOK,
    WORKBOOK_DAMAGED,
    CancelFn,
    WorkbookCancelled,
    WorkbookError,
    fetch_workbook,
    looks_like_html,
    megabytes,
    never_cancel,
)
from catalog.services.release_rows import (
    LINK_KEYS,
    MAX_TEXT,
    RowWarning,
    SheetRow,
    TabRows,
    header_key,
)
from catalog.sources import resolve_source, source_origin

NOT_AN_XLSX = (
    "The file is not an Excel workbook ({detail}): check that the URL is the sheet's XLSX "
    "export (.../export?format=xlsx)"
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
NO_RELEASE_TABS = (
    "The workbook has no tab with a release table (no row with Artist in column A and an Album "
    "column): check that this is the r/progmetal release workbook"
)


@dataclass(slots=True)
class ParsedWorkbook:
    rows: list[SheetRow] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    tabs: list[str] = field(default_factory=list)  # the tabs that had a release table


def load_workbook(
    source: str | None = None, *, should_cancel: CancelFn | None = None
) -> ParsedWorkbook:
    """Fetch and parse the workbook at `source` (default: settings.GOOGLE_SHEETS_XLSX_URL)."""
    location = resolve_source(source)
    data = fetch_workbook(location, origin=source_origin(source), should_cancel=should_cancel)
    return parse_workbook(data, should_cancel=should_cancel)


CANCEL_EVERY_ROWS = 200  # rows read between two looks at the cancel flag
_HEADER_SEARCH_ROWS = 40  # the header is on row 5 or 6; a tab without one by here has no table
_DIGITS = "0123456789"
_MISSING_PART = re.compile(r"There is no item named '([^']+)' in the archive")
_NO_WORKBOOK_PART = "a zip archive without a workbook part"
_PART_CHUNK = 256 * 1024  # bytes read at a time from a part streamed by our own code


def parse_workbook(data: bytes, *, should_cancel: CancelFn | None = None) -> ParsedWorkbook:
    """Parse every tab with a release table; row problems become warnings, never failures.

    Raises WorkbookError, with a message that says what to do, for a file that is not a
    workbook, is damaged, passes one of the caps (see the module docstring) or has no release
    table; WorkbookCancelled when `should_cancel()` answers True.
    """
    cancel = should_cancel or never_cancel
    reader = _open_package(data)
    try:
        _check_parts(reader.archive, cancel)
        sheets = _read_book(reader)
        return _Workbook(reader, cancel).parse(sheets)
    except (zipfile.BadZipFile, zlib.error, EOFError, ElementTree.ParseError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    finally:
        reader.archive.close()


def _open_package(data: bytes) -> ExcelReader:
    """openpyxl's reader with the zip package open, nothing read from it yet."""
    if looks_like_html(data):
        raise WorkbookError(NOT_A_WORKBOOK)
    if not data:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail="the file is empty"))
    if not data.startswith(b"PK"):
        raise WorkbookError(NOT_AN_XLSX.format(detail="not a zip archive"))
    try:
        reader = ExcelReader(BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    if "[Content_Types].xml" not in reader.archive.NameToInfo:
        reader.archive.close()
        raise WorkbookError(NOT_AN_XLSX.format(detail=_NO_WORKBOOK_PART))
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
        raise WorkbookError(WORKBOOK_UNPACKED_TOO_LARGE.format(limit=megabytes(max_unpacked)))
    # Chunks no longer than the cap: a run inside one chunk cannot pass it, so only the runs
    # that cross chunk boundaries are counted (two byte searches a chunk, no split).
    size = max(1, min(_PART_CHUNK, max_cell))
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
                    limit = megabytes(max_unpacked)
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
    return f"{count / 1024:g} KB" if count < 1024 * 1024 else megabytes(count)


def _read_book(reader: ExcelReader) -> list[tuple[str, str]]:
    """Run the steps of openpyxl's reader that give what the rows need: the shared strings,
    the date system and formats, the cell styles and fills; return the worksheets as
    (tab name, part name), in the workbook's order.

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
            sheets = [
                (sheet.name, rel.target)
                for sheet, rel in reader.parser.find_sheets()
                if "chartsheet" not in rel.Type  # a chart holds no table
            ]
    except OSError:  # openpyxl's "File contains no valid workbook part"
        raise WorkbookError(NOT_AN_XLSX.format(detail=_NO_WORKBOOK_PART)) from None
    except KeyError as error:
        missing = _MISSING_PART.search(str(error))
        detail = f"the part {missing.group(1)} is missing" if missing else "a part is missing"
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail)) from None
    except (ValueError, TypeError) as error:  # a value openpyxl's descriptors refuse
        raise WorkbookError(WORKBOOK_DAMAGED.format(detail=_damage_detail(error))) from None
    for _name, part in sheets:
        if part not in reader.archive.NameToInfo:
            raise WorkbookError(WORKBOOK_DAMAGED.format(detail=f"the part {part} is missing"))
    return sheets


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
    """openpyxl's own parser of a sheet part (what its read-only sheets run) reading the rows,
    told which columns to read once the header is known.

    The real tabs format empty cells far to the right of the table (M:Z on every row); reading
    them was most of the parse and none of the result. Once `keep_columns` is called, a cell is
    dropped before openpyxl reads it when it names another column (r="M11") and holds no
    formula (a shared formula's first cell carries the text that later cells repeat). A row
    with a cell that does not name its column is read whole: there, a cell's column is its
    position.
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

    def keep_columns(self, numbers: Iterable[int]) -> None:
        letters = {get_column_letter(number) for number in numbers}
        self.columns = frozenset(letters | {letter.lower() for letter in letters})

    def parse_row(self, row: Any) -> tuple[int, list[dict[str, Any]]]:
        if self.columns is not None and (kept := self.cells_to_read(row, self.columns)) is not None:
            row[:] = kept
        try:
            return super().parse_row(row)
        except (ValueError, IndexError) as error:  # <v>abc</v> in a number cell, a bad index
            detail = f"a cell openpyxl cannot read, {type(error).__name__}: {error}"
            raise WorkbookError(WORKBOOK_DAMAGED.format(detail=detail[:200])) from None

    @staticmethod
    def cells_to_read(row: Any, columns: frozenset[str]) -> list[Any] | None:
        """The row's cells in `columns` or with a formula; None when a cell does not name its
        column (then every cell is read)."""
        kept = []
        for cell in row:
            ref = cell.get("r")
            if ref is None:
                return None
            if ref.rstrip(_DIGITS) in columns or cell.find(FORMULA_TAG) is not None:
                kept.append(cell)
        return kept

    def rows(self, cancel: CancelFn) -> Iterator[tuple[int, Cells]]:
        """Each row's cells by column number, to the end of `<sheetData>` and no further.

        A row numbered at or below the one before it is skipped, as openpyxl's read-only
        sheets do. Not openpyxl's `parse()`, which goes on past the rows and builds the
        sheet's whole `<hyperlinks>` list in memory: 300 MB of hyperlinks took 5.7 GB and
        150 s there; `_sheet_hyperlinks` streams them instead.
        """
        last = read = 0
        for _event, element in iterparse(self.source):
            if element.tag == ROW_TAG:
                read += 1
                if read % CANCEL_EVERY_ROWS == 0 and cancel():
                    raise WorkbookCancelled
                row_number, cells = self.parse_row(element)
                element.clear()
                if row_number > last:
                    last = row_number
                    yield row_number, {cell["column"]: cell for cell in cells}
            elif element.tag == DATA_TAG:
                return


class _Workbook:
    """One parse: openpyxl's reader and its zip package, and the rows left under the cap."""

    def __init__(self, reader: ExcelReader, cancel: CancelFn) -> None:
        from django.conf import settings

        self.reader = reader
        self.book: Any = reader.wb  # read below through openpyxl's private style tables
        self.package = reader.archive  # the zip: sheet parts and their relationships
        self.cancel = cancel
        self.max_rows = int(settings.WORKBOOK_MAX_ROWS)
        self.rows_left = self.max_rows

    def parse(self, sheets: list[tuple[str, str]]) -> ParsedWorkbook:
        result = ParsedWorkbook()
        for name, part in sheets:
            tab = self.parse_sheet(name, part)
            if tab is not None:
                result.tabs.append(name)
                result.rows.extend(tab.rows)
                result.warnings.extend(tab.warnings)
        if not result.tabs:
            raise WorkbookError(NO_RELEASE_TABS)
        return result

    def parse_sheet(self, name: str, member: str) -> TabRows | None:
        """The tab's release rows, or None when it has no release table."""
        with self.package.open(member) as source:
            parser = _SheetParser(source, self.reader)
            rows = parser.rows(self.cancel)
            header = _find_header(rows)
            if header is None:
                return None
            # Column B too: the Unannounced marker may stand there, under no header.
            parser.keep_columns({1, 2, *header.columns.values()})
            links = _sheet_hyperlinks(
                self.package,
                member,
                set(header.letters.values()),
                self.cancel,
                max_row=header.row_number + self.rows_left,  # rows past it are never read
            )
            tab = TabRows(name, epoch=self.book.epoch)
            last = header.row_number
            for row_number, cells in rows:
                # Rows the part leaves out count as blank rows, as openpyxl would yield them.
                self.rows_left -= row_number - last
                last = row_number
                if self.rows_left < 0:
                    raise WorkbookError(WORKBOOK_TOO_MANY_ROWS.format(limit=self.max_rows))
                if _is_unannounced(cells):
                    break
                values = {key: _value(cells, column) for key, column in header.columns.items()}
                if _is_blank(values.values()):
                    continue  # a gap inside the table (or before the Unannounced block)
                hyperlinks = {
                    key: links[ref]
                    for key, letters in header.letters.items()
                    if (ref := f"{letters}{row_number}") in links
                }
                fill = self.fill_colour(cells.get(header.columns.get("length", 0)))
                tab.add(row_number, values, fill, hyperlinks)
        return tab

    def fill_colour(self, cell: dict[str, Any] | None) -> str | None:
        """The cell's solid fill colour ("FFRRGGBB"), None when unfilled or themed."""
        if not cell:
            return None
        # openpyxl's own style tables, as its read-only cells look a fill up (no public name)
        try:
            fill = self.book._fills[self.book._cell_styles[cell["style_id"]].fillId]
        except IndexError:  # a style the file does not define: no fill to read
            return None
        if fill is None or fill.patternType in (None, "none"):
            return None
        colour = fill.fgColor
        if colour is None or colour.type != "rgb" or not isinstance(colour.rgb, str):
            return None
        return colour.rgb.upper().rjust(8, "F")


@dataclass(slots=True)
class _Header:
    row_number: int
    columns: dict[str, int] = field(default_factory=dict)  # field key -> column (1 = A)
    letters: dict[str, str] = field(default_factory=dict)  # link field key -> letters ("I")


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
    header = _Header(row_number)
    for column in sorted(cells):
        name = _value(cells, column)
        key = header_key(name) if isinstance(name, str) else ""
        if not key or key in header.columns:  # the first column of a name wins
            continue
        header.columns[key] = column
        if key in LINK_KEYS:
            header.letters[key] = get_column_letter(column)
    if "artist" not in header.columns or "album" not in header.columns:
        return None
    return header


def _value(cells: Cells, column: int) -> Any:
    """A cell's value as release_rows.py expects it: error cells (#REF!, #N/A) hold none."""
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


def _is_blank(values: Iterable[Any]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


# --- Cell hyperlinks: the one part openpyxl's read-only mode does not read ------------------

_HYPERLINKS_START = re.compile(rb"<(?:\w+:)?hyperlinks[\s>]")
_HYPERLINK = re.compile(rb"<(?:\w+:)?hyperlink\s([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(r"([A-Z]+)(\d+)")
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def _sheet_hyperlinks(
    package: zipfile.ZipFile,
    member: str,
    letters: set[str],
    cancel: CancelFn,
    max_row: int,
) -> dict[str, str]:
    """Cell ref ("I7") -> URL, for the cell hyperlinks in the columns `letters` up to `max_row`.

    Both parts are streamed, and only the links of those cells are kept: what this holds does
    not grow with the size of a hostile part.
    """
    wanted: dict[str, str] = {}  # cell ref -> relationship id
    for attributes in _hyperlink_tags(package, member, cancel):
        relationship = attributes.get("id", "")
        for ref in _expand_ref(attributes.get("ref", ""), max_row):
            if relationship and ref.rstrip(_DIGITS) in letters:
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
        while chunk := stream.read(_PART_CHUNK):
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
