"""Folding text for search: case- and accent-insensitive matching on SQLite and PostgreSQL alike.

SQLite's LIKE folds ASCII case only and neither database ignores accents without extensions, so
each searchable name is stored a second time, folded (``Album.search_title``,
``Artist.search_name``, ``Genre.search_name``), and the query is folded the same way; a plain
``contains`` then matches. ``unicodedata`` (NFKD, then dropping combining marks) and
``str.casefold`` (ß -> ss) do the work; the table below adds the letters that are not a base
letter plus a mark, so NFKD leaves them alone (ø, æ, œ, ł, đ, þ, ı).
"""

import unicodedata
from collections.abc import Iterable
from typing import Any

_EXTRA_FOLDS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ŧ": "t"}
)

# Which field holds the folded copy of which, per model.
SEARCH_FIELDS = {
    "Album": ("title", "search_title"),
    "Artist": ("name", "search_name"),
    "Genre": ("name", "search_name"),
}


def fold(text: str) -> str:
    """Return ``text`` lower-cased, without accents, with ß, ø, æ... spelled in plain letters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.translate(_EXTRA_FOLDS).split())


def set_search_fields(instances: Iterable[Any]) -> str | None:
    """Fill the folded copy on each instance; return the folded field's name (None if none)."""
    name = None
    for instance in instances:
        pair = SEARCH_FIELDS.get(type(instance).__name__)
        if pair is None:  # a model without a folded copy (VocalStyle)
            return None
        source, name = pair
        setattr(instance, name, fold(getattr(instance, source) or ""))
    return name
