"""Build workbooks laid out like the real r/progmetal export, for tests and benchmarks.

The layout follows ../shared/data/progmetal_releases_2025.xlsx: a title, counters (array
formulas) and notes in rows 1-5 with the debut/reissue legend in column C, the header row found by
`Artist` in column A (row 6 for 2021 and later, row 5 for 2020 and older), release rows, a blank
gap, then an "Unannounced Projects" block; link cells show "S"/"BC" and carry the URL as a cell
hyperlink or as a `=HYPERLINK(...)` formula; a `Statistics` tab has no release table.

    data = make_workbook({"2025 Prog-metal": [ReleaseSpec("Mirar", "Ascension")]})
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, cast

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Border, PatternFill, Side
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.worksheet import Worksheet

DEBUT_FILL = "FFFFBA4A"
REISSUE_FILL = "FF96DA77"

RECENT_COLUMNS: tuple[str, ...] = (
    "Artist",
    "Album",
    "Release Date",
    "Length",
    "Genre / Subgenres",
    "Vocal Style",
    "Country / State",
    "Bandcamp",
    "Spotify",
    "YouTube",
    "Amazon",
    "Apple Music",
)
# 2020 and older: a Google Play column, no Apple Music.
OLD_COLUMNS: tuple[str, ...] = (
    "Artist",
    "Album",
    "Release Date",
    "Length",
    "Genre / Subgenres",
    "Vocal Style",
    "Country / State",
    "Bandcamp",
    "Spotify",
    "Google Play",
    "YouTube",
    "Amazon",
)

LinkStyle = Literal["hyperlink", "formula", "text"]

# header name -> (ReleaseSpec attribute, text the cell shows)
_LINK_COLUMNS: dict[str, tuple[str, str]] = {
    "Bandcamp": ("bandcamp", "BC"),
    "Spotify": ("spotify", "S"),
    "YouTube": ("youtube", "YT"),
    "Amazon": ("amazon", "A"),
    "Apple Music": ("apple_music", "AM"),
    "Google Play": ("google_play", "GP"),
}
_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")

_FILLS = {
    "title": PatternFill("solid", fgColor="FF6AA84F"),
    "note": PatternFill("solid", fgColor="FFF3F3F3"),
    "discord": PatternFill("solid", fgColor="FF738ADB"),
    "white": PatternFill("solid", fgColor="FFFFFFFF"),
    "header": PatternFill("solid", fgColor="FFB7B7B7"),
    "debut": PatternFill("solid", fgColor=DEBUT_FILL),
    "reissue": PatternFill("solid", fgColor=REISSUE_FILL),
    "artist": PatternFill("solid", fgColor="FFDDEBF7"),
}
_THIN = Side(style="thin", color="FF000000")
_GAP_BORDER = Border(top=_THIN)


@dataclass(frozen=True, slots=True)
class ReleaseSpec:
    """One release row. Links are full URLs; `spotify` may also be a bare 22-character album id."""

    artist: str | float | None  # a number writes a numeric cell, as for the album "1914"
    album: str | float | None = None
    release_date: date | str | float | None = None
    length: str | None = "LP"
    debut: bool = False
    reissue: bool = False
    genres: str | None = "Prog-metal"
    vocal_style: str | None = "Harsh"
    country: str | None = "US"
    spotify: str = ""
    bandcamp: str = ""
    youtube: str = ""
    amazon: str = ""
    apple_music: str = ""
    google_play: str = ""
    link_style: LinkStyle = "hyperlink"
    length_fill: str | None = None  # any other fill colour on the Length cell ("FFFFFFFF")


DEFAULT_UNANNOUNCED: tuple[ReleaseSpec, ...] = (
    ReleaseSpec("Sadhaka", None, "TBA", genres="Atmospheric Black metal", vocal_style=None),
    ReleaseSpec("Angerer", "The Nine Sources", "TBA", vocal_style=None, country=None),
)


def spotify_album_url(album_id: str, *, si: str | None = None) -> str:
    url = f"https://open.spotify.com/album/{album_id}"
    return f"{url}?si={si}" if si else url


def tab_year(tab: str) -> int | None:
    match = re.match(r"\s*(\d{4})", tab)
    return int(match.group(1)) if match else None


def default_header_row(tab: str) -> int:
    year = tab_year(tab)
    return 6 if year is not None and year >= 2021 else 5


def default_columns(tab: str) -> tuple[str, ...]:
    year = tab_year(tab)
    return RECENT_COLUMNS if year is not None and year >= 2021 else OLD_COLUMNS


def make_workbook(
    tabs: Mapping[str, Sequence[ReleaseSpec]],
    *,
    unannounced: Sequence[ReleaseSpec] = DEFAULT_UNANNOUNCED,
    gap_rows: int = 1,
    header_rows: Mapping[str, int] | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
    statistics: bool = True,
    pad_to_column: int = 26,
    shared_strings: bool = True,
) -> bytes:
    """Return an .xlsx (bytes) with one release tab per `tabs` entry, in order, then `Statistics`.

    `header_rows` / `columns` override the per-tab defaults (row 6 and the recent columns for 2021
    and later, row 5 and the Google Play columns before). `unannounced` rows follow the releases
    after `gap_rows` blank (styled, valueless) rows; pass `()` for no block. Empty styled cells
    pad every row to `pad_to_column`, as in the real export. With `shared_strings` (the default)
    text goes to `xl/sharedStrings.xml` and `=HYPERLINK` cells carry their cached text, as in the
    Google Sheets export; without it the file keeps openpyxl's inline strings.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for tab, releases in tabs.items():
        sheet = workbook.create_sheet(tab)
        header_row = (header_rows or {}).get(tab) or default_header_row(tab)
        tab_columns = tuple((columns or {}).get(tab) or default_columns(tab))
        _write_release_tab(
            sheet,
            tab=tab,
            releases=releases,
            unannounced=unannounced,
            gap_rows=gap_rows,
            header_row=header_row,
            columns=tab_columns,
            pad_to_column=max(pad_to_column, len(tab_columns)),
        )
    if statistics:
        _write_statistics(workbook.create_sheet("Statistics"), list(tabs))
    if not workbook.worksheets:
        workbook.create_sheet("Sheet1")
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    return _as_google_export(data) if shared_strings else data


def save_workbook(path: str | Path, tabs: Mapping[str, Sequence[ReleaseSpec]], **options) -> Path:
    """Write `make_workbook(tabs, **options)` to `path` and return the path."""
    target = Path(path)
    target.write_bytes(make_workbook(tabs, **options))
    return target


_INLINE_STRING = re.compile(
    r'(<c [^>]*?)t="inlineStr"([^>]*)><is><t(?: xml:space="preserve")?>(.*?)</t></is>', re.DOTALL
)
_UNCACHED_HYPERLINK = re.compile(
    r'<c ((?:(?!t=")[^>])*?)><f>(HYPERLINK\("[^"]*",\s*"([^"]*)"\))</f><v\s*/>'
)
_SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_SHARED_STRINGS_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)


def _as_google_export(data: bytes) -> bytes:
    """Rewrite openpyxl's inline strings into a shared-strings part, as Google Sheets writes."""
    strings: dict[str, int] = {}

    def share(match: re.Match[str]) -> str:
        index = strings.setdefault(match.group(3), len(strings))
        return f'{match.group(1)}t="s"{match.group(2)}><v>{index}</v>'

    def cache(match: re.Match[str]) -> str:
        return f'<c {match.group(1)} t="str"><f>{match.group(2)}</f><v>{match.group(3)}</v>'

    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                text = _INLINE_STRING.sub(share, content.decode("utf-8"))
                content = _UNCACHED_HYPERLINK.sub(cache, text).encode("utf-8")
            elif info.filename == "[Content_Types].xml":
                override = (
                    f'<Override PartName="/xl/sharedStrings.xml" '
                    f'ContentType="{_SHARED_STRINGS_TYPE}" /></Types>'
                )
                content = content.replace(b"</Types>", override.encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                relationship = (
                    f'<Relationship Type="{_SHARED_STRINGS_REL}" Target="sharedStrings.xml" '
                    f'Id="rIdSharedStrings" /></Relationships>'
                )
                content = content.replace(b"</Relationships>", relationship.encode())
            target.writestr(info.filename, content)
        items = "".join(f'<si><t xml:space="preserve">{text}</t></si>' for text in strings)
        target.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>',
        )
    return output.getvalue()


def _write_release_tab(
    sheet: Worksheet,
    *,
    tab: str,
    releases: Sequence[ReleaseSpec],
    unannounced: Sequence[ReleaseSpec],
    gap_rows: int,
    header_row: int,
    columns: tuple[str, ...],
    pad_to_column: int,
) -> None:
    first = header_row + 1
    last = max(first, header_row + len(releases))
    _write_preamble(sheet, tab=tab, header_row=header_row, first=first, last=last)

    for index, name in enumerate(columns, start=1):
        cell = sheet.cell(header_row, index, name)
        cell.fill = _FILLS["header"]
    for index in range(len(columns) + 1, pad_to_column + 1):
        sheet.cell(header_row, index).border = _GAP_BORDER

    row = first
    for spec in releases:
        _write_release(sheet, row=row, spec=spec, columns=columns, pad_to_column=pad_to_column)
        row += 1
    for _ in range(gap_rows):
        for index in range(1, pad_to_column + 1):
            sheet.cell(row, index).border = _GAP_BORDER  # styled but empty, like the export
        row += 1
    if unannounced:
        sheet.cell(row, 1, "Unannounced Projects")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        row += 1
        for spec in unannounced:
            _write_release(sheet, row=row, spec=spec, columns=columns, pad_to_column=pad_to_column)
            row += 1


def _write_preamble(sheet: Worksheet, *, tab: str, header_row: int, first: int, last: int) -> None:
    """Title, counters and the colour legend above the header, as in the export."""
    year = tab_year(tab) or 2025
    title = sheet.cell(1, 1, f"{tab} Albums")
    title.fill = _FILLS["title"]
    labels = ["Releases:", "LPs:", "EPs:", "Debuts:", "Reissue/Special:"][-(header_row - 1) :]
    counters = {
        "Releases:": ArrayFormula(
            "", f'=COUNTIF(INDIRECT("C{first}"):C{last}, ">12/31/{year - 1}")'
        ),
        "LPs:": ArrayFormula("", f'=COUNTIF(INDIRECT("D{first}"):D{last}, "*LP*")'),
        "EPs:": ArrayFormula("", f'=COUNTIF(INDIRECT("D{first}"):D{last}, "*EP*")'),
        "Debuts:": f'=COUNTA(valuesByColor("#ffba4a", "#000000", \'{tab}\'!D{first}:D{last}))',
        "Reissue/Special:": (
            f'=COUNTA(valuesByColor("#96da77", "#000000", \'{tab}\'!D{first}:D{last}))'
        ),
    }
    for row, label in enumerate(labels, start=1):
        label_cell = sheet.cell(row, 3, label)
        label_cell.fill = _FILLS["white"]
        counter = counters[label]
        if isinstance(counter, ArrayFormula):
            counter.ref = f"D{row}"
        counter_cell = sheet.cell(row, 4, counter)
        if label == "Debuts:":
            counter_cell.fill = _FILLS["debut"]
        elif label == "Reissue/Special:":
            counter_cell.fill = _FILLS["reissue"]
    notes = sheet.cell(1, 5, "Sort by Artist, Vocal Style, or Genre:\nData -> Filter views...")
    notes.fill = _FILLS["note"]
    sheet.cell(1, 6, "Collaborators: \niAmTheEpicOne\n         FranticDav | Faceless_Aeons")
    discord = sheet.cell(
        1, 9, '=HYPERLINK("https://discord.gg/prog","Images & Words: The Prog Discord")'
    )
    discord.fill = _FILLS["discord"]
    bottom = header_row - 1
    if bottom >= 1:
        sheet.merge_cells(start_row=1, start_column=1, end_row=bottom, end_column=2)
        sheet.merge_cells(start_row=1, start_column=5, end_row=bottom, end_column=5)
        sheet.merge_cells(start_row=1, start_column=6, end_row=bottom, end_column=8)
        sheet.merge_cells(start_row=1, start_column=9, end_row=bottom, end_column=12)
    sheet.freeze_panes = f"C{header_row + 1}"


def _write_release(
    sheet: Worksheet, *, row: int, spec: ReleaseSpec, columns: tuple[str, ...], pad_to_column: int
) -> None:
    values: dict[str, object] = {
        "Artist": spec.artist,
        "Album": spec.album,
        "Release Date": spec.release_date,
        "Length": spec.length,
        "Genre / Subgenres": spec.genres,
        "Vocal Style": spec.vocal_style,
        "Country / State": spec.country,
    }
    for index, name in enumerate(columns, start=1):
        cell = cast(Cell, sheet.cell(row, index))  # release rows hold no merged cells
        if name in _LINK_COLUMNS:
            attribute, label = _LINK_COLUMNS[name]
            url = getattr(spec, attribute)
            if attribute == "spotify" and _SPOTIFY_ID.match(url):
                url = spotify_album_url(url)
            if url:
                if spec.link_style == "formula":
                    cell.value = f'=HYPERLINK("{url}", "{label}")'
                elif spec.link_style == "text":
                    cell.value = url
                else:
                    cell.value = label
                    cell.hyperlink = url
            continue
        value = values.get(name)
        cell.value = value  # type: ignore[assignment]
        if name == "Release Date" and isinstance(value, date | datetime):
            cell.number_format = "mmmm d"
        elif name == "Length":
            fill = DEBUT_FILL if spec.debut else REISSUE_FILL if spec.reissue else spec.length_fill
            if fill:
                cell.fill = PatternFill("solid", fgColor=fill)
        elif name == "Artist" and row % 7 == 1:
            cell.fill = _FILLS["artist"]  # stray highlight colours occur in column A
    for index in range(len(columns) + 1, pad_to_column + 1):
        sheet.cell(row, index).border = _GAP_BORDER


def _write_statistics(sheet: Worksheet, tabs: list[str]) -> None:
    sheet.cell(1, 1, "Statistics")
    sheet.cell(3, 1, "Tab")
    sheet.cell(3, 2, "Releases")
    for row, tab in enumerate(tabs, start=4):
        sheet.cell(row, 1, tab)
        sheet.cell(row, 2, f"=COUNTA('{tab}'!A:A)")
    sheet.cell(len(tabs) + 5, 1, "Artist")  # a stray "Artist" label lower down, not a table header
    sheet.cell(len(tabs) + 5, 2, "Most releases")


# --- hostile files: small on disk, huge once unpacked ------------------------------------------

_INFLATE_CHUNK = 1024 * 1024


def inflate_part(
    data: bytes, member: str, marker: bytes, filler: bytes, size: int, *, before: bool = False
) -> bytes:
    """Copy the workbook `data`, inserting `filler` repeated to about `size` bytes into `member`
    right after (or, with `before`, right before) the first `marker`.

    Written in chunks, so that a 1 GB part costs the builder a few MB of memory; deflate packs a
    repeated filler about 1000:1, so the file stays small (a 400 MB cell in ~400 KB).
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    repeat = max(1, _INFLATE_CHUNK // len(filler))
    block = filler * repeat
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename != member:
                target.writestr(info.filename, content)
                continue
            at = content.index(marker) + (0 if before else len(marker))
            with target.open(info.filename, "w", force_zip64=size > 2**31) as stream:
                stream.write(content[:at])
                written = 0
                while written + len(block) <= size:
                    stream.write(block)
                    written += len(block)
                stream.write(filler * ((size - written) // len(filler)))
                stream.write(content[at:])
    return output.getvalue()


HOSTILE_TAB = "2025 Prog-metal"
HOSTILE_SHEET = "xl/worksheets/sheet1.xml"
# A row of one blank cell and no row number: openpyxl numbers it after the previous row.
TAIL_ROW = b'<row><c t="inlineStr"><is><t> </t></is></c></row>'


def cell_bomb(size: int) -> bytes:
    """One release row whose Artist cell (an inline string) holds `size` more bytes of text."""
    data = make_workbook({HOSTILE_TAB: [ReleaseSpec("Mirar", "Ascension")]}, shared_strings=False)
    return inflate_part(data, HOSTILE_SHEET, b"<t>Mirar", b"A", size)


def shared_string_bomb(size: int) -> bytes:
    """One release row whose Artist is a shared string of `size` more bytes."""
    data = make_workbook({HOSTILE_TAB: [ReleaseSpec("Mirar", "Ascension")]})
    return inflate_part(data, "xl/sharedStrings.xml", b">Mirar", b"A", size)


def many_strings_bomb(size: int) -> bytes:
    """One release row, then about `size` bytes of one-letter shared strings (17 bytes each)."""
    data = make_workbook({HOSTILE_TAB: [ReleaseSpec("Mirar", "Ascension")]})
    return inflate_part(
        data, "xl/sharedStrings.xml", b"</sst>", b"<si><t>x</t></si>", size, before=True
    )


def tail_bomb(size: int, *, unannounced: bool = True) -> bytes:
    """A normal table followed by about `size` bytes of blank rows at the end of the sheet
    (after the Unannounced block, or after the table itself with `unannounced=False`)."""
    releases = [ReleaseSpec("Mirar", "Ascension"), ReleaseSpec("Mirar", "Second")]
    block = DEFAULT_UNANNOUNCED if unannounced else ()
    data = make_workbook({HOSTILE_TAB: releases}, unannounced=block)
    return inflate_part(data, HOSTILE_SHEET, b"</sheetData>", TAIL_ROW, size, before=True)


def hyperlinks_bomb(size: int) -> bytes:
    """One release row with a Spotify link, then about `size` bytes of cell hyperlinks (outside
    the link columns) in the sheet's <hyperlinks> element."""
    release = ReleaseSpec("Mirar", "Ascension", spotify="6eS23i4CUnkQph9azKMWYE")
    data = make_workbook({HOSTILE_TAB: [release]}, unannounced=())
    return inflate_part(data, HOSTILE_SHEET, b"<hyperlinks>", b'<hyperlink ref="Z9"/>', size)


def edit_part(data: bytes, member: str, edit: Callable[[bytes], bytes]) -> bytes:
    """Copy the workbook `data` with the part `member` rewritten by `edit`: for XML that
    openpyxl never writes (shared formulas, lowercase references, repeated rows)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, edit(content) if info.filename == member else content)
    return output.getvalue()


def plain_sheet(rows: Sequence[Sequence[object]], *, tab: str = HOSTILE_TAB) -> bytes:
    """A one-tab workbook holding `rows` from A1, nothing else: the small cases a test spells
    out cell by cell."""
    workbook = Workbook()
    sheet = cast(Worksheet, workbook.active)
    sheet.title = tab
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
