"""What a release row's cells mean: the r/progmetal workbook's conventions, as it is really
written. All of it is ours; it works on plain cell values (no zip, no XML, no Django):
`workbook.py` reads the cells with openpyxl and hands each release row's values here.

* List and year come from the tab name: "2025 Prog-metal" -> ("prog-metal", 2025),
  "2020 Reissues & Special Release" -> ("reissues", 2020), "2018" -> ("prog-metal", 2018).
  Every row of a reissues tab is a reissue, whatever its fill.
* Columns are found by header name (`header_key`), never by position.
* Dates: a date cell is a day; "March 2025" is the 1st of the month with precision "month";
  "2025" is 1 January with precision "year". With no usable date (empty, "TBA", text we cannot
  read) `release_date` is None and the precision is "year". `year` is the tab's year (the list
  the row is in); a date in another year is kept as written, with a warning (the 2025 tab has
  one "2005-01-30").
* Genres are split on commas, trimmed and kept as written: never mapped onto one another.
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
* Text is cut to MAX_TEXT characters, more than any column of the catalog stores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl.utils.datetime import from_excel

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


LINK_KEYS = frozenset({"bandcamp", "spotify", "youtube", "amazon", "apple_music", "google_play"})


def header_key(name: str) -> str:
    """The field a header cell names ("Genre / Subgenres" -> "genres"), "" for any other."""
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


class TabRows:
    """One tab's release rows as SheetRows, with the warnings they raise.

    `add` takes a row's values by field key ("artist", "spotify"...; `header_key` names them),
    the Length cell's fill colour, and the cell hyperlinks of its link cells by field key.
    """

    def __init__(self, tab: str, *, epoch: datetime) -> None:
        self.tab = tab
        self.epoch = epoch  # the workbook's date system, for a date serial without a date format
        self.release_list, self.year = tab_list_and_year(tab)
        self.rows: list[SheetRow] = []
        self.warnings: list[RowWarning] = []
        self.seen: dict[tuple[str, ...], int] = {}

    def warn(self, row_number: int, message: str) -> None:
        self.warnings.append(RowWarning(self.tab, row_number, message))

    def add(
        self,
        row_number: int,
        values: Mapping[str, Any],
        length_fill: str | None,
        hyperlinks: Mapping[str, str],
    ) -> None:
        row = self.build_row(row_number, values, length_fill, hyperlinks)
        if row is not None:
            self.rows.append(row)

    def build_row(
        self,
        row_number: int,
        values: Mapping[str, Any],
        length_fill: str | None,
        hyperlinks: Mapping[str, str],
    ) -> SheetRow | None:
        artist = _text(values.get("artist"))
        if not artist:
            self.warn(row_number, WARN_NO_ARTIST)
            return None
        title = _text(values.get("album"))
        if not title:
            self.warn(row_number, WARN_NO_TITLE)
        release_date, precision = self.release_date(row_number, values)
        if release_date and self.year and release_date.year != self.year:
            self.warn(row_number, WARN_DATE_YEAR.format(date=release_date, year=self.year))
        length_format, is_debut, is_reissue = self.length(row_number, values, length_fill)
        spotify_id, spotify_url = self.spotify(row_number, values, hyperlinks)
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
            genres=split_genres(_text(values.get("genres"))),
            vocal_style=canonical_vocal_style(_text(values.get("vocal_style"))),
            country=_text(values.get("country")),
            spotify_album_id=spotify_id,
            spotify_url=spotify_url,
            bandcamp_url=self.link(row_number, values, hyperlinks, "bandcamp"),
            youtube_url=self.link(row_number, values, hyperlinks, "youtube"),
            apple_music_url=self.link(row_number, values, hyperlinks, "apple_music"),
            amazon_url=self.link(row_number, values, hyperlinks, "amazon"),
        )
        self.check_duplicate(row)
        return row

    def release_date(self, row_number: int, values: Mapping[str, Any]) -> tuple[date | None, str]:
        value = values.get("release_date")
        if isinstance(value, date):
            return value, "day"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if 1900 <= value <= 2100 and float(value).is_integer():
                return date(int(value), 1, 1), "year"  # a bare year typed as a number
            try:
                return from_excel(value, self.epoch).date(), "day"  # a serial, no date format
            except (OverflowError, ValueError):  # no day in the calendar has that serial
                pass
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
        self, row_number: int, values: Mapping[str, Any], colour: str | None
    ) -> tuple[str, bool, bool]:
        value = _text(values.get("length"))
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

    def link(
        self, row_number: int, values: Mapping[str, Any], hyperlinks: Mapping[str, str], key: str
    ) -> str:
        """The URL of a link cell (its hyperlink, else its =HYPERLINK formula, else a bare URL),
        only when it is an http(s) address: anything else is dropped with a warning."""
        url = hyperlinks.get(key) or _written_link(values.get(key))
        if not url or _WEB_URL.match(url):
            return url
        if key == "spotify" and spotify_album(url)[0]:
            return url  # spotify:album:... or open.spotify.com/album/...: stored as https
        match = _SCHEME.match(url)
        scheme = f"{match.group(1).lower()}:" if match else "no scheme"
        column = _COLUMN_NAMES.get(key, key)
        self.warn(row_number, WARN_LINK_SCHEME.format(column=column, scheme=scheme))
        return ""

    def spotify(
        self, row_number: int, values: Mapping[str, Any], hyperlinks: Mapping[str, str]
    ) -> tuple[str | None, str]:
        url = self.link(row_number, values, hyperlinks, "spotify")
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


def _written_link(value: Any) -> str:
    """The URL a link cell holds itself: its =HYPERLINK("url", ...) formula's, or a bare URL."""
    if not isinstance(value, str):
        return ""
    value = value[:MAX_TEXT]
    if value.startswith("="):
        match = _HYPERLINK_FORMULA.match(value)
        return match.group(1).replace('""', '"').strip() if match else ""
    text = value.strip()
    # Plain text is a link only when it looks like one ("BC" or "TBA" are labels).
    return text if _SCHEME.match(text) else ""
