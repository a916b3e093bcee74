from urllib.parse import urlsplit

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from catalog import selectors
from catalog.forms import AlbumFilterForm, filter_chips, list_url, page_links

ALBUMS_PER_PAGE = 50
EMPTY_FILTERED = "No albums match these filters"
EMPTY_CATALOG = "The catalog is empty: run a sync"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def album_list(request: HtmxHttpRequest) -> HttpResponse:
    """The tile grid with its filters; an HTMX request gets only the results region."""
    genre_facets = selectors.genre_facets()
    vocal_styles = selectors.vocal_style_options()
    form = AlbumFilterForm(request.GET, genre_facets=genre_facets, vocal_styles=vocal_styles)
    filters = form.filters()
    paginator = Paginator(selectors.album_list(filters=filters), ALBUMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))

    base_url = reverse("catalog:album-list")
    current_url = list_url(base_url, filters, page=page.number)
    empty_message = ""
    if not paginator.count:
        has_albums = filters.is_active() and not selectors.catalog_is_empty()
        empty_message = EMPTY_FILTERED if has_albums else EMPTY_CATALOG
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "albums": page.object_list,
        "page_links": page_links(page, base_url=base_url, filters=filters),
        "previous_url": (
            list_url(base_url, filters, page=page.previous_page_number())
            if page.has_previous()
            else ""
        ),
        "next_url": (
            list_url(base_url, filters, page=page.next_page_number()) if page.has_next() else ""
        ),
        "chips": filter_chips(
            filters,
            base_url=base_url,
            genre_names={facet.slug: facet.name for facet in genre_facets},
            vocal_names={style.slug: style.name for style in vocal_styles},
        ),
        "current_url": current_url,
        "detail_query": "?" + urlencode({"back": current_url}),
        "empty_message": empty_message,
        "genre_facets": genre_facets,
        "vocal_styles": vocal_styles,
        "years": selectors.release_years(),
    }
    # Boosted links and history restores replace the whole page, so they get the whole page.
    fragment = request.htmx and not (request.htmx.boosted or request.htmx.history_restore_request)
    template = "catalog/album_list.html#album-results" if fragment else "catalog/album_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def back_to_list_url(back: str) -> str:
    """The album list URL in `back` when it is one (filters kept), else the bare list URL.

    Only a relative URL whose path is the list's is accepted: no redirect to elsewhere.
    """
    base_url = reverse("catalog:album-list")
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or parts.path != base_url:
        return base_url
    query = QueryDict(parts.query).urlencode()
    return f"{base_url}?{query}" if query else base_url


@require_GET
def album_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Every field of one album; hidden albums too, marked as no longer in the workbook."""
    album = get_object_or_404(selectors.album_detail(), pk=pk)
    context = {"album": album, "back_url": back_to_list_url(request.GET.get("back", ""))}
    return render(request, "catalog/album_detail.html", context)


# Placeholders until the Sync Now feature lands.


@require_POST
def sync_trigger(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_GET
def sync_status(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_POST
def sync_cancel(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_GET
def sync_history(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)
