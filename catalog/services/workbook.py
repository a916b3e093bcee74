"""Download the r/progmetal workbook and parse it into plain rows (no Django models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

NETWORK_ERROR = "Network error: Unable to reach external services. Please check your connection."
NOT_A_WORKBOOK = (
    "Google Sheets returned a web page, not a workbook: check that the sheet is shared "
    "publicly and that the URL is its XLSX export"
)


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
