from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from catalog import selectors
from catalog.forms import AlbumFilterForm, filter_chips, list_url, page_links, requested_slugs
from catalog.models import Artist, VocalStyle
from catalog.services import sync
from catalog.services.sync import SyncManager, SyncOptions
from catalog.sync_panel import SyncPanel, load_sync_panel, recent_operations, sync_finished

ALBUMS_PER_PAGE = 50
EMPTY_FILTERED = "No albums match these filters"
EMPTY_CATALOG = "The catalog is empty"
# Under EMPTY_CATALOG: staff learn what to do; visitors, who can do nothing about it, when to
# come back (and, logged out, where an administrator logs in).
EMPTY_CATALOG_STAFF_HINT = "Press Sync Now above to import the albums from the workbook."
EMPTY_CATALOG_VISITOR_HINT = "No albums have been imported yet: check back soon"
EMPTY_CATALOG_ADMIN_LOGIN = "Catalog administrator?"
# The results region's id: an HTMX request it makes itself (its refresh when a sync completes)
# also carries the filter options, which the sync may have changed, as out-of-band swaps.
RESULTS_REGION_ID = "album-results"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def album_list(request: HtmxHttpRequest) -> HttpResponse:
    """The tile grid with its filters; an HTMX request gets only the results region.

    The filter options (genre facets count every genre link) are computed only for responses
    that show them: the page, and the results region's own refresh after a sync. Other HTMX
    requests (each search keystroke, each page link) only look up the genres and vocal styles
    they ask for.
    """
    # Boosted links and history restores replace the whole page, so they get the whole page.
    fragment = bool(request.htmx) and not (
        request.htmx.boosted or request.htmx.history_restore_request
    )
    with_options = not fragment or request.htmx.trigger == RESULTS_REGION_ID
    genre_facets: list[selectors.GenreFacet] = []
    vocal_styles: list[VocalStyle] = []
    if with_options:
        genre_facets = selectors.genre_facets()
        vocal_styles = selectors.vocal_style_options()
        genre_choices = [(facet.slug, facet.name) for facet in genre_facets]
        vocal_choices = [(style.slug, style.name) for style in vocal_styles]
    else:
        genre_choices = selectors.genre_choices(slugs=requested_slugs(request.GET, "genre"))
        vocal_choices = selectors.vocal_style_choices(slugs=requested_slugs(request.GET, "vocal"))
    form = AlbumFilterForm(request.GET, genre_choices=genre_choices, vocal_choices=vocal_choices)
    filters = form.filters()
    paginator = Paginator(selectors.album_list(filters=filters), ALBUMS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))

    albums = list(page.object_list)
    base_url = reverse("catalog:album-list")
    current_url = list_url(base_url, filters, page=page.number)
    empty_message = ""
    empty_catalog = False
    if not paginator.count:
        empty_catalog = not filters.is_active() or selectors.catalog_is_empty()
        empty_message = EMPTY_CATALOG if empty_catalog else EMPTY_FILTERED
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "albums": albums,
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
            genre_names=dict(genre_choices),
            vocal_names=dict(vocal_choices),
        ),
        "current_url": current_url,
        "detail_query": "?" + urlencode({"back": current_url}),
        "empty_message": empty_message,
        "empty_catalog": empty_catalog,
        "empty_catalog_staff_hint": EMPTY_CATALOG_STAFF_HINT,
        "empty_catalog_visitor_hint": EMPTY_CATALOG_VISITOR_HINT,
        "empty_catalog_admin_login": EMPTY_CATALOG_ADMIN_LOGIN,
        # The footer credits Spotify only when this page shows a cover from it.
        "spotify_covers": any(a.cover_thumbnail_url or a.cover_image_url for a in albums),
        "results_region_id": RESULTS_REGION_ID,
        # A fragment updates what lies outside the results region out of band.
        "out_of_band": fragment,
        "with_options": with_options,
        "genre_facets": genre_facets,
        "vocal_styles": vocal_styles,
        "years": selectors.release_years() if with_options else [],
    }
    template = "catalog/album_list.html#album-results" if fragment else "catalog/album_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    patch_vary_headers(response, ("HX-Trigger",))
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
    context = {
        "album": album,
        "back_url": back_to_list_url(request.GET.get("back", "")),
        "spotify_covers": bool(album.cover_image_url or album.cover_thumbnail_url),
    }
    return render(request, "catalog/album_detail.html", context)


@require_GET
def artist_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """An artist's visible albums across every year and list, newest first; 404 when the artist
    has none (every album left the workbook)."""
    artist = get_object_or_404(Artist, pk=pk)
    albums = list(selectors.artist_albums(artist=artist))
    if not albums:
        raise Http404("No albums of this artist are in the catalog")
    genres = sorted({genre.name for album in albums for genre in album.genres.all()})
    countries = sorted({album.country for album in albums if album.country})
    context = {
        "artist": artist,
        "albums": albums,
        "genres": genres,
        "countries": countries,
        "spotify_covers": any(a.cover_thumbnail_url or a.cover_image_url for a in albums),
    }
    return render(request, "catalog/artist_detail.html", context)


# --- Sync Now --------------------------------------------------------------------------------

SYNC_PANEL_TEMPLATE = "catalog/sync_panel.html#panel"
STAFF_REQUIRED = "Only staff members can sync the catalog: please log in."
SYNC_STARTED = "Sync started."
SYNC_CANCEL_REQUESTED = "Cancel requested: the sync stops in a moment; albums already synced stay."


def _wants_json(request: HttpRequest) -> bool:
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _render_panel(request: HttpRequest, panel: SyncPanel, *, status: int = 200) -> HttpResponse:
    """The panel fragment; with an out-of-band announcement for the page's persistent live
    regions only when the state or stage differs from the one the poller last heard
    (`announced`), so a poll that changes only counts says nothing."""
    announce = request.GET.get("announced") != panel.announce_key
    context = {"sync_panel": panel, "announce": announce}
    return render(request, SYNC_PANEL_TEMPLATE, context, status=status)


def _sync_answer(
    request: HtmxHttpRequest, *, status: int, message: str, alert: bool, hint: str = ""
) -> HttpResponse:
    """The panel for HTMX, the status JSON (or an error) for JSON clients, else a redirect.

    A plain form POST (no JavaScript) gets a 303 back to the album list with `message`. An
    alert's `hint` (what to do) follows the message; JSON clients get it as `hint`.
    """
    if _wants_json(request):
        if alert:
            error = {"error": message, "hint": hint} if hint else {"error": message}
            return JsonResponse(error, status=status)
        return JsonResponse(load_sync_panel().as_json(), status=status)
    text = sync.join_sentences(message, hint) if hint else message
    if request.htmx:
        panel = load_sync_panel(alert=text if alert else "")
        return _render_panel(request, panel, status=status)
    (messages.error if alert else messages.success)(request, text)
    response = HttpResponseRedirect(reverse("catalog:album-list"))
    response.status_code = 303  # See Other: the browser GETs the list after the POST
    return response


def _staff_only(request: HtmxHttpRequest) -> HttpResponse | None:
    """None for staff; 403 for HTMX and JSON requests; otherwise the login page."""
    user = request.user
    if user.is_active and user.is_staff:
        return None
    if request.htmx or _wants_json(request):
        return _sync_answer(request, status=403, message=STAFF_REQUIRED, alert=True)
    return redirect_to_login(reverse("catalog:album-list"))


@require_POST
def sync_trigger(request: HtmxHttpRequest) -> HttpResponse:
    """Start a sync: 202 (HX-Trigger: syncStarted) at once; 409 while one runs; 503 when
    Spotify enrichment is on without credentials. The import runs in the runner, not here.

    `allow_removals=1` (the panel's confirm button after a run kept albums visible) is
    `import_albums --allow-removals`: this run hides every album no longer in the workbook.
    """
    if denied := _staff_only(request):
        return denied
    options = SyncOptions(allow_removals=request.POST.get("allow_removals") == "1")
    try:
        operation = SyncManager().start(options=options, user=request.user)
    except sync.SpotifyNotConfigured:
        return _sync_answer(
            request,
            status=503,
            message=sync.SPOTIFY_NOT_CONFIGURED,
            hint=sync.SPOTIFY_SETUP_HINT,
            alert=True,
        )
    except sync.SyncAlreadyRunning:
        return _sync_answer(request, status=409, message=sync.SYNC_ALREADY_RUNNING, alert=True)
    if not request.htmx or _wants_json(request):
        return _sync_answer(request, status=202, message=SYNC_STARTED, alert=False)
    panel = load_sync_panel()
    response = _render_panel(request, panel, status=202)
    trigger_client_event(response, "syncStarted", {"id": operation.pk})
    if sync_finished(panel, watching=operation.pk):
        # Already over (a very small sync): the panel will not poll, so say it here.
        trigger_client_event(response, "syncCompleted", {"id": operation.pk})
    return response


@never_cache
@require_GET
def sync_status(request: HtmxHttpRequest) -> HttpResponse:
    """The panel fragment (the status JSON for `Accept: application/json`) of the latest sync.

    A poller sends the id of the sync it watches (`watching`); once that sync has ended the
    answer carries `HX-Trigger: syncCompleted`, and the fragment no longer polls.
    """
    panel = load_sync_panel()
    if _wants_json(request):
        response: HttpResponse = JsonResponse(panel.as_json())
    else:
        response = _render_panel(request, panel)
    watching = request.GET.get("watching", "")
    watching_id = int(watching) if watching.isdigit() else None
    if sync_finished(panel, watching=watching_id):
        trigger_client_event(response, "syncCompleted", {"id": watching_id, "status": panel.status})
    patch_vary_headers(response, ("Accept",))
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
def sync_cancel(request: HtmxHttpRequest) -> HttpResponse:
    """Ask the running sync to stop at its next check: 202; 409 when none is running."""
    if denied := _staff_only(request):
        return denied
    if SyncManager().cancel() is None:
        return _sync_answer(request, status=409, message=sync.NO_ACTIVE_SYNC, alert=True)
    return _sync_answer(request, status=202, message=SYNC_CANCEL_REQUESTED, alert=False)


@require_GET
def sync_history(request: HtmxHttpRequest) -> HttpResponse:
    """Recent syncs with their failed albums; open to visitors (who started a run: staff only)."""
    context = {"entries": recent_operations(), "show_people": request.user.is_staff}
    return render(request, "catalog/sync_history.html", context)
