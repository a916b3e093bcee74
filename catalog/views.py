import datetime
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.syndication.views import Feed
from django.core.paginator import Paginator
from django.db.models import QuerySet
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
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails
from icalendar import Calendar, Event, vText

from catalog import charts, selectors
from catalog.forms import AlbumFilterForm, requested_slugs
from catalog.links import absolute_url, filter_chips, list_url, pager
from catalog.models import Album, Artist, SyncOperation
from catalog.page_cache import cached_for_visitors
from catalog.selectors import nothing_new_since
from catalog.services import sync
from catalog.services.sync import SyncManager, SyncOptions
from catalog.sync_panel import SyncPanel, history_entries, load_sync_panel, sync_finished
from catalog.tasks import enqueue_sync
from catalog.templatetags.album_tags import listen_links

ALBUMS_PER_PAGE = 50
# The results region's id: an HTMX request it makes itself (its refresh when a sync completes)
# also carries the filter options, which the sync may have changed, as out-of-band swaps.
RESULTS_REGION_ID = "album-results"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _is_fragment(request: HtmxHttpRequest) -> bool:
    """An HTMX request for the results region alone (django-htmx's `request.htmx`)."""
    # Boosted links and history restores replace the whole page, so they get the whole page.
    return bool(request.htmx) and not (request.htmx.boosted or request.htmx.history_restore_request)


def _filter_form(
    request: HttpRequest, *, with_options: bool, sortable: bool = False
) -> dict[str, Any]:
    """The album list's filter form for a page of albums, with its options.

    The filter options (genre facets count every genre link) are computed only for responses
    that show them (`with_options`). Other HTMX requests (each search keystroke, each page
    link) only look up the genres and vocal styles they ask for. Only the album list is
    `sortable`: the other pages have an order of their own, and the list's sort does not apply.
    """
    if with_options:
        genre_facets = selectors.genre_facets()
        vocal_styles = selectors.vocal_style_options()
        genre_choices = [(facet.slug, facet.name) for facet in genre_facets]
        vocal_choices = [(style.slug, style.name) for style in vocal_styles]
    else:
        genre_facets, vocal_styles = [], []
        genre_choices = selectors.genre_choices(slugs=requested_slugs(request.GET, "genre"))
        vocal_choices = selectors.vocal_style_choices(slugs=requested_slugs(request.GET, "vocal"))
    form = AlbumFilterForm(request.GET, genre_choices=genre_choices, vocal_choices=vocal_choices)
    filters = form.filters()
    return {
        "form": form,
        "filters": filters if sortable else replace(filters, sort=""),
        "unsorted": not sortable,
        "genre_facets": genre_facets,
        "vocal_styles": vocal_styles,
        "genre_names": dict(genre_choices),
        "vocal_names": dict(vocal_choices),
        "years": selectors.release_years() if with_options else [],
        "with_options": with_options,
    }


def _album_page(
    request: HttpRequest, albums: QuerySet[Album], *, base_url: str, options: dict[str, Any]
) -> dict[str, Any]:
    """The page of `albums` the request asks for, with the links that keep its filters (the
    page links, the filter chips, the page's own URL)."""
    filters: selectors.AlbumFilters = options["filters"]
    page = Paginator(albums, ALBUMS_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    return {
        "page": page,
        "albums": shown,
        "pager": pager(page, base_url=base_url, filters=filters),
        "chips": filter_chips(
            filters,
            base_url=base_url,
            genre_names=options["genre_names"],
            vocal_names=options["vocal_names"],
        ),
        "current_url": list_url(base_url, filters, page=page.number),
        # The footer credits Spotify only when this page shows a cover from it.
        "spotify_covers": any(a.cover_thumbnail_url or a.cover_image_url for a in shown),
        "results_region_id": RESULTS_REGION_ID,
    }


@require_safe
@cached_for_visitors
@vary_on_headers("HX-Request", "HX-Trigger")
def album_list(request: HtmxHttpRequest) -> HttpResponse:
    """The tile grid with its filters; an HTMX request gets only the results region, which
    carries the filter options too when it is the region's own refresh after a sync."""
    fragment = _is_fragment(request)
    with_options = not fragment or request.htmx.trigger == RESULTS_REGION_ID
    context = _filter_form(request, with_options=with_options, sortable=True)
    filters: selectors.AlbumFilters = context["filters"]
    base_url = reverse("catalog:album-list")
    albums = selectors.album_list(filters=filters)
    context |= _album_page(request, albums, base_url=base_url, options=context)
    context |= {
        "feed_url": list_url(reverse("catalog:feed"), replace(filters, sort="")),
        "detail_query": "?" + urlencode({"back": context["current_url"]}),
        # Nothing to show because the catalog is empty, not because the filters match nothing.
        "empty_catalog": not context["page"].paginator.count
        and (not filters.is_active() or selectors.catalog_is_empty()),
        # A fragment updates what lies outside the results region out of band.
        "out_of_band": fragment,
    }
    template_name = "catalog/album_list.html"
    if fragment:
        template_name += "#album-results"
    return render(request, template_name, context)


def back_to_list_url(back: str) -> str:
    """The album list URL in `back` when it is one (filters kept), else the bare list URL.

    Only a relative URL whose path is the list's is accepted: no redirect to elsewhere.
    """
    base_url = reverse("catalog:album-list")
    try:
        parts = urlsplit(back)
    except ValueError:  # not a URL at all ("http://[")
        return base_url
    if parts.scheme or parts.netloc or parts.path != base_url:
        return base_url
    query = QueryDict(parts.query).urlencode()
    return f"{base_url}?{query}" if query else base_url


@require_safe
@cached_for_visitors
def album_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Every field of one album; hidden albums too, marked as no longer in the workbook."""
    album = get_object_or_404(selectors.album_detail(), pk=pk)
    context = {
        "album": album,
        "back_url": back_to_list_url(request.GET.get("back", "")),
        "spotify_covers": bool(album.cover_image_url or album.cover_thumbnail_url),
    }
    return render(request, "catalog/album_detail.html", context)


@require_safe
@cached_for_visitors
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
RUNNER_HINT = "Try again in a minute; if it keeps failing, the server log says why."
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
        return JsonResponse(load_sync_panel(staff=_is_staff(request)).as_json(), status=status)
    text = sync.join_sentences(message, hint) if hint else message
    if request.htmx:
        panel = load_sync_panel(alert=text if alert else "", staff=_is_staff(request))
        return _render_panel(request, panel, status=status)
    (messages.error if alert else messages.success)(request, text)
    response = HttpResponseRedirect(reverse("catalog:album-list"))
    response.status_code = 303  # See Other: the browser GETs the list after the POST
    return response


def _is_staff(request: HttpRequest) -> bool:
    """Staff may sync and read failures in full (a server path, a setting's name)."""
    return bool(request.user.is_active and request.user.is_staff)


def _staff_only(request: HtmxHttpRequest) -> HttpResponse | None:
    """None for staff; 403 for HTMX and JSON requests; otherwise the login page."""
    if _is_staff(request):
        return None
    if request.htmx or _wants_json(request):
        return _sync_answer(request, status=403, message=STAFF_REQUIRED, alert=True)
    return redirect_to_login(reverse("catalog:album-list"))


@require_POST
def sync_trigger(request: HtmxHttpRequest) -> HttpResponse:
    """Start a sync: 202 (HX-Trigger: syncStarted) at once; 409 while one runs; 503 when
    Spotify enrichment is on without credentials or the runner refuses the job. The import
    runs in the runner, not here.

    `allow_removals=1` (the panel's confirm button after a run kept albums visible) is
    `import_albums --allow-removals`: this run hides every album no longer in the workbook.
    """
    if denied := _staff_only(request):
        return denied
    options = SyncOptions(allow_removals=request.POST.get("allow_removals") == "1")
    try:
        operation = SyncManager(enqueue_sync).start(options=options, user=request.user)
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
    except sync.SyncRunnerRefused:
        return _sync_answer(
            request, status=503, message=sync.SYNC_RUNNER_FAILED, hint=RUNNER_HINT, alert=True
        )
    if not request.htmx or _wants_json(request):
        return _sync_answer(request, status=202, message=SYNC_STARTED, alert=False)
    panel = load_sync_panel(staff=_is_staff(request))
    response = _render_panel(request, panel, status=202)
    trigger_client_event(response, "syncStarted", {"id": operation.pk})
    if sync_finished(panel, watching=operation.pk):
        # Already over (a very small sync): the panel will not poll, so say it here.
        trigger_client_event(response, "syncCompleted", {"id": operation.pk})
    return response


def sync_id_param(value: str) -> int | None:
    """A sync id from the query string, or None: ASCII digits only (str.isdigit() also accepts
    "²" and "①", which int() refuses), and no more than a database id can hold."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


@never_cache
@require_safe
def sync_status(request: HtmxHttpRequest) -> HttpResponse:
    """The panel fragment (the status JSON for `Accept: application/json`) of the latest sync.

    A poller sends the id of the sync it watches (`watching`); once that sync has ended the
    answer carries `HX-Trigger: syncCompleted`, and the fragment no longer polls.
    """
    since = sync_id_param(request.GET.get("since", ""))
    if since is not None and not _wants_json(request) and nothing_new_since(since):
        # The idle check of an open page: nothing started since it loaded. 204 leaves the page
        # as it is (htmx swaps nothing) and costs one small query.
        return HttpResponse(status=204)
    panel = load_sync_panel(staff=_is_staff(request))
    if _wants_json(request):
        response: HttpResponse = JsonResponse(panel.as_json())
    else:
        response = _render_panel(request, panel)
    watching_id = sync_id_param(request.GET.get("watching", ""))
    if sync_finished(panel, watching=watching_id):
        trigger_client_event(response, "syncCompleted", {"id": watching_id, "status": panel.status})
    elif since is not None and not panel.is_active:
        # A sync started and ended between two idle checks: the grid refreshes all the same.
        trigger_client_event(response, "syncCompleted", {"id": panel.operation_id})
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


@require_safe
def sync_notes(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Every note the workbook gave one run, for staff only (they can name private rows):
    the list for the history's collapsible entry (HTMX), a page of its own otherwise."""
    if denied := _staff_only(request):
        return denied
    fields = ("started_at", "status", "warnings", "warnings_count")
    operation = get_object_or_404(SyncOperation.objects.only(*fields), pk=pk)
    notes = [str(note) for note in operation.warnings or []]
    context = {
        "operation": operation,
        "notes": notes,
        "not_kept": max(operation.warnings_count - len(notes), 0),
    }
    template = "catalog/sync_notes.html#notes" if request.htmx else "catalog/sync_notes.html"
    return render(request, template, context)


@require_safe
def sync_history(request: HtmxHttpRequest) -> HttpResponse:
    """Recent syncs with their failed albums; open to visitors (who started a run: staff only)."""
    staff = _is_staff(request)
    context = {"entries": history_entries(staff=staff), "show_people": staff}
    return render(request, "catalog/sync_history.html", context)


# --- Upcoming releases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthGroup:
    """The upcoming albums of one month (or of one year, for those known only to the year);
    the template words the heading: "December 2026", "Sometime in 2027"."""

    year: int
    month: datetime.date | None  # its first day; None for the albums known only to the year
    albums: list[Album]


def month_groups(albums: list[Album]) -> list[MonthGroup]:
    """Consecutive albums of the same month (`upcoming_albums` order) under one heading; the
    albums known only to the year after that year's months."""
    groups: list[MonthGroup] = []
    key = None
    for album in albums:
        year, month = album.period_year, album.period_month  # type: ignore[attr-defined]
        if (year, month) != key:
            key = (year, month)
            known = month != selectors.UPCOMING_YEAR_ONLY
            groups.append(MonthGroup(year, datetime.date(year, month, 1) if known else None, []))
        groups[-1].albums.append(album)
    return groups


@require_safe
@cached_for_visitors
@vary_on_headers("HX-Request")
def upcoming(request: HtmxHttpRequest) -> HttpResponse:
    """Albums released after today (in the site's time zone), soonest first, by month, with the
    list's filters; an HTMX request gets only the results region."""
    fragment = _is_fragment(request)
    context = _filter_form(request, with_options=not fragment)
    filters: selectors.AlbumFilters = context["filters"]
    today = timezone.localdate()
    base_url = reverse("catalog:upcoming")
    albums = selectors.upcoming_albums(filters=filters, today=today)
    context |= _album_page(request, albums, base_url=base_url, options=context)
    ics_url = list_url(reverse("catalog:upcoming-ics"), filters)
    absolute_ics = absolute_url(ics_url)
    context |= {
        "today": today,
        "groups": month_groups(context["albums"]),
        "filter_action": base_url,
        "detail_query": "",
        "ics_url": ics_url,
        # webcal:// asks the visitor's calendar app to subscribe (and to fetch it again).
        "webcal_url": "webcal" + absolute_ics.removeprefix("https").removeprefix("http"),
        "out_of_band": fragment,
    }
    template_name = "catalog/upcoming.html"
    if fragment:
        template_name += "#upcoming-results"
    return render(request, template_name, context)


# --- Calendar of upcoming releases -----------------------------------------------------------

CALENDAR_NAME = "Upcoming prog releases"
CALENDAR_PRODID = "-//r/progmetal album catalog//Upcoming releases//EN"


# Characters RFC 5545 does not allow in TEXT (control characters other than tab and line breaks).
_CALENDAR_CONTROLS = dict.fromkeys([*range(0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F])


class CalendarText(vText):
    """A TEXT value escaped by RFC 5545's rules alone, so workbook text comes out of a calendar
    parser exactly as it went in: icalendar's own escaping also turns a literal backslash-N
    (two characters) into a line break."""

    def to_ical(self) -> bytes:
        text = str(self).translate(_CALENDAR_CONTROLS).replace("\\", "\\\\")
        text = text.replace(";", "\\;").replace(",", "\\,")
        text = text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
        return text.encode(self.encoding)


def album_event(album: Album, *, detail_url: str, uid_domain: str) -> Event:
    """One all-day event for a release dated to the day (from `selectors.calendar_albums`),
    linking `detail_url`.

    The UID is the album's id at `uid_domain` (the configured site's host name, never the
    request's), so a calendar app that fetches the feed again updates the event (a moved date,
    a new link) instead of adding a second one, whatever address it was fetched from.
    """
    facts = [
        ("Genres", ", ".join(album.genre_names)),  # type: ignore[attr-defined]
        ("Country", album.country),
        ("Format", album.format),
        ("Vocal style", album.vocal_style.name if album.vocal_style else ""),
    ]
    lines = [f"{label}: {value}" for label, value in facts if value]
    lines += [f"{label}: {url}" for label, url in listen_links(album)]
    lines.append(f"In the catalog: {detail_url}")
    event = Event()
    event.add("uid", f"album-{album.pk}@{uid_domain}")
    # When the album last changed: a calendar app can tell an updated event from an old one.
    event.add("dtstamp", album.updated_at)
    # A date (not a datetime) makes an all-day event; DTEND is exclusive, the next day.
    event.add("dtstart", album.release_date)
    event.add("dtend", album.release_date + datetime.timedelta(days=1))  # type: ignore[operator]
    event.add("summary", CalendarText(f"{album.artist.name} – {album.title}"))
    event.add("description", CalendarText("\n".join(lines)))
    event.add("url", detail_url)
    event.add("transp", "TRANSPARENT")  # a release does not make anyone busy
    return event


@require_safe
@cached_for_visitors
def upcoming_calendar(request: HttpRequest) -> HttpResponse:
    """The upcoming releases dated to the day as an iCalendar file (RFC 5545, built by the
    `icalendar` library), with the upcoming page's filters: `?genre=djent` is a djent
    calendar. Releases known only to the month or year have no day to put an event on."""
    albums = selectors.calendar_albums(
        filters=requested_filters(request), today=timezone.localdate()
    )
    calendar = Calendar()
    calendar.add("prodid", CALENDAR_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", CALENDAR_NAME)
    # One reverse() for all the links: the album pages' URLs differ only by the id.
    detail_url = absolute_url(reverse("catalog:album-detail", args=[0]))
    prefix, suffix = detail_url.rsplit("/0/", 1)
    uid_domain = urlsplit(settings.SITE_URL).hostname or ""
    for album in albums:
        url = f"{prefix}/{album.pk}/{suffix}"
        calendar.add_component(album_event(album, detail_url=url, uid_domain=uid_domain))
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="upcoming.ics"'
    return response


# --- Feed of new albums ----------------------------------------------------------------------

FEED_ITEMS = 50
FEED_TITLE = "New albums in the prog metal catalog"


def requested_filters(request: HttpRequest) -> selectors.AlbumFilters:
    """The album list's filters in `request` (bad values dropped), for pages without the
    filter form: only the requested genres and vocal styles are looked up."""
    genre_choices = selectors.genre_choices(slugs=requested_slugs(request.GET, "genre"))
    vocal_choices = selectors.vocal_style_choices(slugs=requested_slugs(request.GET, "vocal"))
    form = AlbumFilterForm(request.GET, genre_choices=genre_choices, vocal_choices=vocal_choices)
    return replace(form.filters(), sort="")


class NewAlbumsFeed(Feed):
    """An Atom feed (Django's syndication framework) of the albums most recently added to the
    catalog, with the album list's filters: `?list=prog-rock` follows the prog-rock list.

    Each entry's summary is rendered from a template, so workbook text is HTML-escaped before
    feed readers, which read the summary as HTML, see it.
    """

    feed_type = Atom1Feed
    title = FEED_TITLE
    subtitle = "The latest releases added from the r/progmetal release workbook."
    description_template = "catalog/feed_entry.html"

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return requested_filters(request)

    # Every link is absolute already (SITE_URL): Django's syndication would otherwise prefix
    # the request's Host header, which a client sets, into links and entry ids.
    def link(self, obj: selectors.AlbumFilters) -> str:
        return absolute_url(list_url(reverse("catalog:album-list"), obj))

    def feed_url(self, obj: selectors.AlbumFilters) -> str:
        # The feed's own address (rel="self") keeps its filters; Django's default drops them.
        return absolute_url(list_url(reverse("catalog:feed"), obj))

    def items(self, obj: selectors.AlbumFilters) -> list[Album]:
        return list(selectors.recently_added(filters=obj)[:FEED_ITEMS])

    def item_title(self, item: Album) -> str:
        return f"{item.artist.name} – {item.title}"

    def item_link(self, item: Album) -> str:
        return absolute_url(item.get_absolute_url())

    def item_pubdate(self, item: Album) -> datetime.datetime:
        return item.created_at

    def item_updateddate(self, item: Album) -> datetime.datetime:
        return item.updated_at

    def item_author_name(self, item: Album) -> str:
        return item.artist.name

    def item_categories(self, item: Album) -> list[str]:
        return [genre.name for genre in item.genres.all()]


new_albums_feed = require_safe(cached_for_visitors(NewAlbumsFeed()))


# --- Statistics ------------------------------------------------------------------------------


@require_safe
@cached_for_visitors
def stats(request: HttpRequest) -> HttpResponse:
    """The catalog in numbers, as server-drawn SVG charts with a table each, for the albums
    the list's filters select (`?list=prog-rock`); a year filter does not apply: the charts
    compare years."""
    options = _filter_form(request, with_options=False)
    filters = replace(options["filters"], year=None)
    figures = selectors.catalog_stats(filters=filters, today=timezone.localdate())
    base_url = reverse("catalog:stats")
    debut_rows = [("Debuts", figures.debuts), ("Other albums", figures.total - figures.debuts)]
    context = {
        "figures": figures,
        "filters": filters,
        "form": options["form"],
        "chips": filter_chips(
            filters,
            base_url=base_url,
            genre_names=options["genre_names"],
            vocal_names=options["vocal_names"],
        ),
        "filter_action": base_url,
        "list_url": list_url(reverse("catalog:album-list"), filters),
        "month_chart": charts.month_chart(figures.per_month) if figures.per_month else None,
        "year_chart": charts.bar_chart(figures.per_year),
        "genre_charts": [
            {"year": year, "chart": charts.bar_chart(rows)}
            for year, rows in figures.genres_per_year
            if rows
        ],
        "vocal_chart": charts.bar_chart(figures.vocal_styles),
        "country_chart": charts.bar_chart(figures.countries),
        "debut_chart": charts.bar_chart(debut_rows),
        "debut_share": round(100 * figures.debuts / figures.total, 1) if figures.total else 0,
    }
    return render(request, "catalog/stats.html", context)
