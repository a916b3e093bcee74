"""Rows from the workbook (+ Spotify data) -> catalog upserts, with progress through a callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

STAGE_FETCHING = "fetching"
STAGE_IMPORTING = "importing"
STAGE_ENRICHING = "enriching"
STAGE_FINALIZING = "finalizing"


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    processed: int
    total: int
    message: str


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class AlbumFailure:
    label: str  # "Artist - Title"
    reason: str
    album_id: int | None = None


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # no longer in the workbook: hidden, not deleted
    failed: int = 0
    failures: list[AlbumFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    spotify_requests: int = 0
    spotify_stopped: str = ""  # why enrichment stopped early, for the user; "" when it did not


class ImportCancelled(Exception):
    """Raised between albums when `should_cancel()` answers True; carries the partial result."""

    def __init__(self, result: ImportResult, processed: int, total: int) -> None:
        super().__init__(f"Sync cancelled after {processed} of {total} albums")
        self.result = result
        self.processed = processed
        self.total = total
