"""The words for a run's counts and its duration, shared by the panel, the history, the admin,
the command and the log.

One vocabulary everywhere: an album is *new* (created), *changed* (updated), *unchanged*, or
*removed* (no longer in the workbook: hidden, not deleted). Numbers carry thousands separators
("2,555") and nouns agree with them ("1 album", "2 albums"); durations read "1 min 12 s".
"""

from __future__ import annotations

from datetime import timedelta

COUNT_NEW = "new"
COUNT_CHANGED = "changed"
COUNT_UNCHANGED = "unchanged"
COUNT_REMOVED = "removed"
# The counts line says what "removed" means; the sentences say it short.
COUNT_REMOVED_LONG = "removed (no longer in the workbook)"
NOTHING_CHANGED = "nothing changed"


def number(count: int) -> str:
    """2555 -> '2,555'."""
    return f"{count:,}"


def albums(count: int) -> str:
    """'1 album', '2,555 albums'."""
    return f"{number(count)} album{'' if count == 1 else 's'}"


def count_parts(
    *, created: int, updated: int, unchanged: int, removed: int, long_removed: bool = True
) -> list[str]:
    """The counts line as parts: ['12 new', '3 changed', '2,540 unchanged'], then 'N removed'
    when albums left the workbook."""
    parts = [
        f"{number(created)} {COUNT_NEW}",
        f"{number(updated)} {COUNT_CHANGED}",
        f"{number(unchanged)} {COUNT_UNCHANGED}",
    ]
    if removed:
        parts.append(f"{number(removed)} {COUNT_REMOVED_LONG if long_removed else COUNT_REMOVED}")
    return parts


def counts_line(*, created: int, updated: int, unchanged: int, removed: int) -> str:
    """'12 new · 3 changed · 2,540 unchanged · 1 removed' (the log's and the shell's line)."""
    parts = count_parts(
        created=created, updated=updated, unchanged=unchanged, removed=removed, long_removed=False
    )
    return " · ".join(parts)


def changes(*, created: int, updated: int, removed: int, unchanged: int) -> str:
    """What a run changed, as a phrase: '12 new albums, 3 changed, 1 removed', '1 changed
    album', or 'nothing changed (2,555 albums unchanged)'. Zero counts are left out."""
    counted = [(created, COUNT_NEW), (updated, COUNT_CHANGED), (removed, COUNT_REMOVED)]
    present = [(count, word) for count, word in counted if count]
    if not present:
        if unchanged:
            return f"{NOTHING_CHANGED} ({albums(unchanged)} {COUNT_UNCHANGED})"
        return NOTHING_CHANGED
    (first_count, first_word), rest = present[0], present[1:]
    noun = "album" if first_count == 1 else "albums"
    words = [f"{number(first_count)} {first_word} {noun}"]
    words.extend(f"{number(count)} {word}" for count, word in rest)
    return ", ".join(words)


def format_duration(delta: timedelta) -> str:
    """'45 s', '1 min 12 s', '2 h 5 min' (whole seconds)."""
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"
