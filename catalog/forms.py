"""The album list's filter form: which query-string values are accepted, and how.

The links that keep or drop those values (page links, filter chips) are in catalog/links.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.http import QueryDict

from catalog.models import Album
from catalog.selectors import ALBUM_SORTS, AlbumFilters

SEARCH_MAX_LENGTH = 100
# Shown above the results when a longer search (a hand-made or pasted URL) was cut.
SEARCH_CUT_NOTE = "Your search was longer than {limit} characters: only its start was used."
# More genres than anyone picks by hand; bounds the slug lookup's IN list.
MAX_SELECTED = 100


def requested_slugs(data: QueryDict, name: str) -> list[str]:
    """The distinct values of `name` in the query string, at most MAX_SELECTED of them: the
    slugs to look up (a hand-made URL with thousands of them is cut short, not an error).

    A value with a NUL is no slug and is left out before it reaches the database: PostgreSQL
    refuses NUL in any text it is sent (a DataError, so a 500)."""
    slugs = (value for value in data.getlist(name) if "\x00" not in value)
    return list(dict.fromkeys(slugs))[:MAX_SELECTED]


class LenientMultipleChoiceField(forms.MultipleChoiceField):
    """Keeps the known values and drops the others, so an old or edited link still works.

    Like `requested_slugs`, only the first MAX_SELECTED distinct values are considered, so the
    page and its HTMX fragments accept the same values.
    """

    def clean(self, value: Any) -> list[str]:
        known = {str(choice) for choice, _label in self.choices}
        values = list(dict.fromkeys(self.to_python(value) or ()))[:MAX_SELECTED]
        return [v for v in values if v in known]


class AlbumFilterForm(forms.Form):
    """Validates the album list's query string; invalid values are dropped, never an error page."""

    # Not `max_length`: Django would then reject a longer search and the form drop it, which
    # showed the whole catalog as if nothing had been asked. It is cut instead (clean_q).
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"maxlength": SEARCH_MAX_LENGTH}),
    )
    genre = LenientMultipleChoiceField(required=False, label="Genres")
    vocal = LenientMultipleChoiceField(required=False, label="Vocal style")
    year = forms.IntegerField(required=False, min_value=1900, max_value=2100, label="Year")
    list = forms.ChoiceField(
        required=False, choices=[("", "All lists"), *Album.ReleaseList.choices], label="List"
    )
    format = forms.ChoiceField(
        required=False, choices=[("", "LP and EP"), *Album.Format.choices], label="Format"
    )
    debut = forms.BooleanField(required=False, label="Debuts only")
    sort = forms.ChoiceField(required=False, choices=[*ALBUM_SORTS.items()], label="Sort by")

    def __init__(
        self,
        data: Any,
        *,
        genre_choices: Sequence[tuple[str, str]],
        vocal_choices: Sequence[tuple[str, str]],
    ) -> None:
        """`genre_choices` and `vocal_choices` are the (slug, name) pairs to accept: all the
        options, or only the requested ones that exist (`requested_slugs`)."""
        super().__init__(data)
        self.search_cut = False  # set by clean_q when the search was longer than allowed
        self.fields["genre"].choices = genre_choices  # type: ignore[attr-defined]
        self.fields["vocal"].choices = vocal_choices  # type: ignore[attr-defined]

    def clean_q(self) -> str:
        q: str = self.cleaned_data.get("q") or ""
        if len(q) > SEARCH_MAX_LENGTH:
            self.search_cut = True
            q = q[:SEARCH_MAX_LENGTH].strip()
        return q

    @property
    def search_note(self) -> str:
        """What to tell the visitor about their search ("" when it was used whole)."""
        return SEARCH_CUT_NOTE.format(limit=SEARCH_MAX_LENGTH) if self.search_cut else ""

    def filters(self) -> AlbumFilters:
        """The valid part of the submitted filters (bad values are left out)."""
        self.is_valid()
        data = self.cleaned_data
        return AlbumFilters(
            q=data.get("q") or "",
            genres=tuple(data.get("genre") or ()),
            vocal_styles=tuple(data.get("vocal") or ()),
            year=data.get("year"),
            release_list=data.get("list") or "",
            format=data.get("format") or "",
            debut=bool(data.get("debut")),
            sort=data.get("sort") or "",
        )
