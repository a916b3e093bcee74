"""The links of the album pages that keep or drop the filter form's values: the list URL for a
set of filters, one removable chip per active filter, and the page links around a page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.paginator import Page
from django.utils.http import urlencode

from catalog.models import Album
from catalog.selectors import ALBUM_SORTS, AlbumFilters

DEBUT_CHIP = "Debuts only"


def absolute_url(path: str) -> str:
    """`path` on the site's configured address (SITE_URL), never the request's Host header:
    a feed, a calendar or a page kept in the shared page cache must not carry the address a
    client made up."""
    return settings.SITE_URL + path


def filter_params(filters: AlbumFilters) -> list[tuple[str, str]]:
    """The query-string pairs that reproduce `filters`, in the form's order."""
    params: list[tuple[str, str]] = []
    if filters.q:
        params.append(("q", filters.q))
    params.extend(("genre", slug) for slug in filters.genres)
    params.extend(("vocal", slug) for slug in filters.vocal_styles)
    if filters.year is not None:
        params.append(("year", str(filters.year)))
    if filters.release_list:
        params.append(("list", filters.release_list))
    if filters.format:
        params.append(("format", filters.format))
    if filters.debut:
        params.append(("debut", "1"))
    if filters.sort:
        params.append(("sort", filters.sort))
    return params


def list_url(base_url: str, filters: AlbumFilters, *, page: int = 1) -> str:
    """The album list URL showing `filters` (and `page` when it is not the first)."""
    params = filter_params(filters)
    if page > 1:
        params.append(("page", str(page)))
    return f"{base_url}?{urlencode(params)}" if params else base_url


@dataclass(frozen=True, slots=True)
class FilterChip:
    label: str
    remove_url: str  # the same list without this one value


def filter_chips(
    filters: AlbumFilters,
    *,
    base_url: str,
    genre_names: dict[str, str],
    vocal_names: dict[str, str],
) -> list[FilterChip]:
    """One chip per active filter value; removing a chip goes back to the first page."""

    def without(**changes: Any) -> str:
        return list_url(base_url, replace(filters, **changes))

    chips: list[FilterChip] = []
    if filters.q:
        chips.append(FilterChip(f"Search: {filters.q}", without(q="")))
    for slug in filters.genres:
        remaining = tuple(s for s in filters.genres if s != slug)
        chips.append(FilterChip(genre_names.get(slug, slug), without(genres=remaining)))
    for slug in filters.vocal_styles:
        remaining = tuple(s for s in filters.vocal_styles if s != slug)
        chips.append(FilterChip(vocal_names.get(slug, slug), without(vocal_styles=remaining)))
    if filters.year is not None:
        chips.append(FilterChip(str(filters.year), without(year=None)))
    if filters.release_list:
        label = Album.ReleaseList(filters.release_list).label
        chips.append(FilterChip(label, without(release_list="")))
    if filters.format:
        chips.append(FilterChip(filters.format, without(format="")))
    if filters.debut:
        chips.append(FilterChip(DEBUT_CHIP, without(debut=False)))
    if filters.sort:
        chips.append(FilterChip(f"Sort: {ALBUM_SORTS[filters.sort]}", without(sort="")))
    return chips


@dataclass(frozen=True, slots=True)
class PageLink:
    number: int | None  # None for an ellipsis
    url: str
    is_current: bool


def page_links(page: Page, *, base_url: str, filters: AlbumFilters) -> list[PageLink]:
    """Links to the pages around `page` and at both ends, keeping the filters."""
    numbers: Iterable[int | str] = page.paginator.get_elided_page_range(  # pyright: ignore[reportAttributeAccessIssue]
        page.number, on_each_side=2, on_ends=1
    )
    return [
        PageLink(number, list_url(base_url, filters, page=number), number == page.number)
        if isinstance(number, int)
        else PageLink(None, "", False)
        for number in numbers
    ]


@dataclass(frozen=True, slots=True)
class Pager:
    """The pagination of one page of albums: the numbered links, the previous and the next page
    ("" on the first and the last page)."""

    links: list[PageLink]
    previous_url: str
    next_url: str


def pager(page: Page, *, base_url: str, filters: AlbumFilters) -> Pager:
    """The pagination links of `page`, each keeping the filters."""
    return Pager(
        links=page_links(page, base_url=base_url, filters=filters),
        previous_url=(
            list_url(base_url, filters, page=page.previous_page_number())
            if page.has_previous()
            else ""
        ),
        next_url=(
            list_url(base_url, filters, page=page.next_page_number()) if page.has_next() else ""
        ),
    )
