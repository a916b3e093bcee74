import datetime
import re
from html import unescape
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse

from catalog.forms import SEARCH_CUT_NOTE, SEARCH_MAX_LENGTH
from catalog.models import Album
from catalog.services.sync import NO_ACTIVE_SYNC
from catalog.views import ALBUMS_PER_PAGE, RESULTS_REGION_ID
from tests.support.factories import make_album, make_artist, make_genre, make_vocal_style

pytestmark = pytest.mark.django_db

# The empty states' words, from templates/catalog/album_list.html.
EMPTY_FILTERED = "No albums match these filters"
EMPTY_CATALOG = "The catalog is empty"
EMPTY_CATALOG_STAFF_HINT = "Press Sync Now above to import the albums from the workbook."
EMPTY_CATALOG_VISITOR_HINT = "No albums have been imported yet: check back soon"
EMPTY_CATALOG_ADMIN_LOGIN = "Catalog administrator?"

LIST_URL = reverse("catalog:album-list")


def get_list(client, params=None, **headers):
    return client.get(LIST_URL, params or {}, headers=headers)


def get_fragment(client, params=None):
    """What the filter form, a page link or the search box asks for through HTMX."""
    return get_list(client, params, HX_Request="true")


def get_refresh(client, params=None):
    """What the results region asks for itself when a sync completes."""
    return get_list(client, params, HX_Request="true", HX_Trigger=RESULTS_REGION_ID)


TILE_ID = re.compile(r'class="album-tile[^"]*" data-album-id="(\d+)"')


def listed_ids(response) -> list[int]:
    """Album ids in the order the tiles show them."""
    return [int(pk) for pk in TILE_ID.findall(response.content.decode())]


def chip_links(response) -> dict[str, str]:
    """Chip label -> the URL the chip links to (after HTML unescaping)."""
    html = response.content.decode()
    return {
        unescape(label).strip(): unescape(href)
        for href, label in re.findall(
            r'<a class="chip[^"]*" href="([^"]*)"[^>]*>(?:<bdi>)?([^<]*)', html
        )
    }


# --- Listing and ordering ------------------------------------------------------------------


def test_lists_visible_albums_newest_first_with_undated_last(client):
    """Newest release first, ties by newest id, albums without a date at the end."""
    old = make_album(release_date=datetime.date(2023, 5, 1))
    undated = make_album(release_date=None, year=2024)
    new = make_album(release_date=datetime.date(2025, 3, 1))
    same_day_first = make_album(release_date=datetime.date(2024, 6, 1))
    same_day_second = make_album(release_date=datetime.date(2024, 6, 1))

    response = get_list(client)

    assert listed_ids(response) == [
        new.pk,
        same_day_second.pk,
        same_day_first.pk,
        old.pk,
        undated.pk,
    ]


def test_hidden_albums_are_not_listed(client):
    """Albums no longer in the workbook are left out of the list."""
    visible = make_album()
    make_album(in_workbook=False)

    assert listed_ids(get_list(client)) == [visible.pk]


def test_tile_shows_the_albums_facts(client):
    """A tile shows title, artist, date, country, genres, vocal style and the badges."""
    album = make_album(
        title="Monolith",
        artist="Vessel of Ash",
        country="Norway",
        format=Album.Format.EP,
        is_debut=True,
        is_reissue=True,
        vocal_style=make_vocal_style("Harsh"),
        genres=[make_genre("Djent"), make_genre("Post-Metal")],
    )

    html = get_list(client).content.decode()

    assert f'<article class="album-tile album-tile--debut" data-album-id="{album.pk}">' in html
    for text in [
        "Monolith",
        "Vessel of Ash",
        "Jan 15, 2025",
        "Norway",
        "<bdi>Djent</bdi>, <bdi>Post-Metal</bdi>",
    ]:
        assert text in html
    assert '<li class="badge badge--format">EP</li>' in html
    assert '<li class="badge badge--debut">Debut</li>' in html
    assert '<li class="badge badge--reissue">Reissue</li>' in html
    assert '<li class="badge badge--vocals">Harsh</li>' in html


def test_tile_cover_is_a_lazy_thumbnail_with_dimensions(client):
    """The tile's cover is the thumbnail, lazy-loaded, with width and height."""
    make_album(
        cover_image_url="https://i.scdn.co/image/large",
        cover_thumbnail_url="https://i.scdn.co/image/thumb",
    )

    html = get_list(client).content.decode()

    assert (
        '<img src="https://i.scdn.co/image/thumb" alt="" width="300" height="300" loading="lazy"'
        in html
    )
    assert "image/large" not in html


def test_tile_without_cover_shows_the_placeholder(client):
    """An album without cover art gets the placeholder image."""
    make_album(cover_image_url="", cover_thumbnail_url="")

    html = get_list(client).content.decode()

    assert 'class="cover-placeholder" src="/static/img/cover-placeholder.svg"' in html


def test_workbook_values_are_escaped(client):
    """Text from the workbook is HTML-escaped, never markup."""
    make_album(
        title="<script>alert(1)</script>",
        artist='Band "<b>"',
        genres=[make_genre("<i>Genre</i>", slug="genre-markup")],
    )

    html = get_list(client).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>" not in html
    assert "<i>Genre</i>" not in html
    assert "&lt;i&gt;Genre&lt;/i&gt;" in html


# --- Filters ---------------------------------------------------------------------------------


def test_genre_filter_lists_albums_with_that_genre(client):
    """?genre=<slug> lists only albums with that genre."""
    djent = make_genre("Djent")
    match = make_album(genres=[djent, make_genre("Jazz")])
    make_album(genres=[make_genre("Doom")])

    assert listed_ids(get_list(client, {"genre": "djent"})) == [match.pk]


def test_several_genres_match_any_of_them_once(client):
    """Several genres list albums with any of them, each album once."""
    djent, jazz = make_genre("Djent"), make_genre("Jazz")
    both = make_album(genres=[djent, jazz], release_date=datetime.date(2025, 3, 1))
    only_jazz = make_album(genres=[jazz], release_date=datetime.date(2025, 2, 1))
    make_album(genres=[make_genre("Doom")])

    response = get_list(client, {"genre": ["djent", "jazz"]})

    assert listed_ids(response) == [both.pk, only_jazz.pk]


def test_vocal_style_filter_accepts_several(client):
    """?vocal= may repeat; albums with any of those vocal styles are listed."""
    harsh, clean = make_vocal_style("Harsh"), make_vocal_style("Clean")
    harsh_album = make_album(vocal_style=harsh, release_date=datetime.date(2025, 2, 1))
    clean_album = make_album(vocal_style=clean, release_date=datetime.date(2025, 1, 1))
    make_album(vocal_style=make_vocal_style("Mixed"))
    make_album(vocal_style=None)

    assert listed_ids(get_list(client, {"vocal": "harsh"})) == [harsh_album.pk]
    assert listed_ids(get_list(client, {"vocal": ["harsh", "clean"]})) == [
        harsh_album.pk,
        clean_album.pk,
    ]


def test_year_filter(client):
    """?year= lists the albums of that year."""
    match = make_album(release_date=datetime.date(2023, 4, 1))
    make_album(release_date=datetime.date(2024, 4, 1))

    assert listed_ids(get_list(client, {"year": "2023"})) == [match.pk]


def test_year_filter_offers_only_years_with_visible_albums(client):
    """A year whose every album left the workbook is not offered: choosing it would list
    nothing. Years come newest first."""
    make_album(release_date=datetime.date(2023, 4, 1))
    make_album(release_date=datetime.date(2025, 4, 1))
    make_album(release_date=datetime.date(2019, 4, 1), in_workbook=False)

    html = client.get("/catalog/albums/").content.decode()
    select = re.search(r'<select[^>]*name="year".*?</select>', html, re.S)

    assert select is not None
    assert re.findall(r'<option value="(\d+)"', select.group(0)) == ["2025", "2023"]


def test_list_filter(client):
    """?list= lists the albums of one release list."""
    match = make_album(release_list=Album.ReleaseList.PROG_ROCK)
    make_album(release_list=Album.ReleaseList.PROG_METAL)

    assert listed_ids(get_list(client, {"list": "prog-rock"})) == [match.pk]


def test_format_filter(client):
    """?format=EP lists EPs only."""
    ep = make_album(format=Album.Format.EP)
    make_album(format=Album.Format.LP)

    assert listed_ids(get_list(client, {"format": "EP"})) == [ep.pk]


def test_debut_filter(client):
    """?debut=1 lists debuts only."""
    debut = make_album(is_debut=True)
    make_album(is_debut=False)

    assert listed_ids(get_list(client, {"debut": "1"})) == [debut.pk]


def test_filters_combine(client):
    """Every filter at once narrows to the albums matching all of them."""
    djent, harsh = make_genre("Djent"), make_vocal_style("Harsh")
    wanted = {
        "genres": [djent],
        "vocal_style": harsh,
        "release_date": datetime.date(2024, 3, 1),
        "release_list": Album.ReleaseList.PROG_METAL,
        "format": Album.Format.EP,
        "is_debut": True,
    }
    match = make_album(title="Shadow Play", **wanted)
    # Each of these differs from the match in exactly one way.
    make_album(title="Shadow Two", **{**wanted, "genres": [make_genre("Jazz")]})
    make_album(title="Shadow Three", **{**wanted, "vocal_style": make_vocal_style("Clean")})
    make_album(title="Shadow Four", **{**wanted, "release_date": datetime.date(2023, 3, 1)})
    make_album(title="Shadow Five", **{**wanted, "release_list": Album.ReleaseList.PROG_ROCK})
    make_album(title="Shadow Six", **{**wanted, "format": Album.Format.LP})
    make_album(title="Shadow Seven", **{**wanted, "is_debut": False})
    make_album(title="Light", **wanted)

    params = {
        "q": "shadow",
        "genre": "djent",
        "vocal": "harsh",
        "year": "2024",
        "list": "prog-metal",
        "format": "EP",
        "debut": "1",
    }
    assert listed_ids(get_list(client, params)) == [match.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"genre": "no-such-genre"},
        {"vocal": "no-such-style"},
        {"year": "abc"},
        {"year": "99999"},
        {"list": "polka"},
        {"format": "8-track"},
        {"page": "xyz"},
    ],
)
def test_invalid_filter_values_are_ignored(client, params):
    """A bad filter value is dropped: the page still lists the albums, without an error."""
    album = make_album()

    response = get_list(client, params)

    assert response.status_code == 200
    assert listed_ids(response) == [album.pk]


def test_unknown_genre_is_dropped_but_known_ones_kept(client):
    """In a list of genres, an unknown slug is dropped and the known ones still filter."""
    match = make_album(genres=[make_genre("Djent")])
    make_album(genres=[make_genre("Doom")])

    response = get_list(client, {"genre": ["djent", "bogus"]})

    assert listed_ids(response) == [match.pk]
    assert list(chip_links(response)) == ["Djent", "Clear all"]


@pytest.mark.parametrize("fetch", [get_list, get_fragment], ids=["page", "fragment"])
def test_genre_known_only_to_hidden_albums_is_dropped(client, fetch):
    """A genre no visible album has is not a valid filter, on the page and in the fragment."""
    visible = make_album(genres=[make_genre("Djent")])
    make_album(genres=[make_genre("Zeuhl")], in_workbook=False)

    response = fetch(client, {"genre": ["zeuhl", "djent"]})

    assert listed_ids(response) == [visible.pk]
    assert list(chip_links(response)) == ["Djent", "Clear all"]


@pytest.mark.parametrize("fetch", [get_list, get_fragment], ids=["page", "fragment"])
def test_vocal_style_chips_are_named_and_unknown_styles_dropped(client, fetch):
    """Requested vocal styles are validated and named in the chips, in page and fragment."""
    harsh = make_album(vocal_style=make_vocal_style("Harsh"))

    response = fetch(client, {"vocal": ["harsh", "yodel"]})

    assert listed_ids(response) == [harsh.pk]
    assert list(chip_links(response)) == ["Harsh", "Clear all"]


# --- Search ----------------------------------------------------------------------------------


def test_search_matches_title(client):
    """?q= finds albums by a part of the title, whatever the case."""
    match = make_album(title="The Obsidian Tide")
    make_album(title="Something Else")

    assert listed_ids(get_list(client, {"q": "obsidian"})) == [match.pk]


def test_search_matches_artist_name(client):
    """?q= finds albums by a part of the artist's name."""
    match = make_album(artist=make_artist(name="Leprous"))
    make_album(artist=make_artist(name="Haken"))

    assert listed_ids(get_list(client, {"q": "LEPR"})) == [match.pk]


def test_search_matches_genre_name_once_per_album(client):
    """?q= finds albums by a genre name, each album once even when several genres match."""
    match = make_album(genres=[make_genre("Avant-Garde Metal"), make_genre("Avant-Prog")])
    make_album(genres=[make_genre("Doom")])

    assert listed_ids(get_list(client, {"q": "avant"})) == [match.pk]


# --- Chips and clearing ----------------------------------------------------------------------


def test_active_filters_show_as_chips_that_remove_one_value(client):
    """Each active value is a chip linking to the same list without that value."""
    make_album(genres=[make_genre("Djent"), make_genre("Jazz")], is_debut=True)

    response = get_list(client, {"genre": ["djent", "jazz"], "debut": "1", "q": "album"})
    chips = chip_links(response)

    assert chips == {
        "Search: album": f"{LIST_URL}?genre=djent&genre=jazz&debut=1",
        "Djent": f"{LIST_URL}?q=album&genre=jazz&debut=1",
        "Jazz": f"{LIST_URL}?q=album&genre=djent&debut=1",
        "Debuts only": f"{LIST_URL}?q=album&genre=djent&genre=jazz",
        "Clear all": LIST_URL,
    }


def test_chip_for_every_kind_of_filter(client):
    """Vocal style, year, list and format are chips too, labelled for people."""
    make_album(vocal_style=make_vocal_style("Clean"), release_date=datetime.date(2024, 1, 1))

    response = get_list(
        client, {"vocal": "clean", "year": "2024", "list": "reissues", "format": "LP"}
    )

    assert set(chip_links(response)) == {
        "Clean",
        "2024",
        "Reissues & special releases",
        "LP",
        "Clear all",
    }


def test_following_a_chip_removes_only_that_filter(client):
    """The chip's link lists what the other filters match."""
    djent = make_genre("Djent")
    ep = make_album(genres=[djent], format=Album.Format.EP, release_date=datetime.date(2025, 2, 1))
    lp = make_album(genres=[djent], format=Album.Format.LP)
    make_album(format=Album.Format.EP)

    response = get_list(client, {"genre": "djent", "format": "EP"})
    assert listed_ids(response) == [ep.pk]

    without_format = client.get(chip_links(response)["EP"])
    assert listed_ids(without_format) == [ep.pk, lp.pk]


def test_clear_all_lists_everything(client):
    """The "Clear all" chip links to the unfiltered list."""
    albums = [make_album(release_date=datetime.date(2025, 1, day)) for day in (2, 1)]
    response = get_list(client, {"format": "EP"})

    cleared = client.get(chip_links(response)["Clear all"])

    assert listed_ids(cleared) == [album.pk for album in albums]
    assert chip_links(cleared) == {}


def test_no_chips_without_filters(client):
    """The unfiltered list shows no chips and no "Clear all"."""
    make_album()

    assert chip_links(get_list(client)) == {}


# --- Empty states ----------------------------------------------------------------------------


def test_empty_catalog_says_so(client):
    """With no albums at all, the page says the catalog is empty."""
    html = get_list(client).content.decode()

    assert EMPTY_CATALOG in html
    assert EMPTY_FILTERED not in html


def test_empty_catalog_tells_visitors_to_come_back_and_admins_where_to_log_in(client):
    """A visitor is not told to run a sync (they cannot); an administrator gets a log-in link
    back to the list."""
    html = get_list(client, {"format": "EP"}).content.decode()

    login_url = "/admin/login/?next=/catalog/albums/%3Fformat%3DEP"
    assert f"{EMPTY_CATALOG_VISITOR_HINT}." in html
    assert f'{EMPTY_CATALOG_ADMIN_LOGIN} <a href="{login_url}">Log in</a>' in html
    assert "run a sync" not in html.lower()
    assert EMPTY_CATALOG_STAFF_HINT not in html


def test_empty_catalog_points_staff_at_sync_now(client, staff_user):
    """Staff are pointed at the Sync Now button instead."""
    client.force_login(staff_user)

    html = get_list(client).content.decode()

    assert EMPTY_CATALOG_STAFF_HINT in html
    assert EMPTY_CATALOG_VISITOR_HINT not in html


@pytest.mark.parametrize("staff", [True, False])
def test_an_empty_catalog_during_its_first_sync_says_the_albums_are_coming(
    client, staff_user, staff
):
    """While the first sync runs, nobody is told to press Sync Now (or to come back later)."""
    from catalog.models import SyncOperation
    from tests.support.sync_factories import make_operation

    make_operation(status=SyncOperation.Status.RUNNING)
    if staff:
        client.force_login(staff_user)

    html = get_list(client).content.decode()

    assert "A sync is running: the albums appear here when it completes." in html
    assert EMPTY_CATALOG_STAFF_HINT not in html
    assert EMPTY_CATALOG_VISITOR_HINT not in html


def test_only_hidden_albums_is_an_empty_catalog(client):
    """Hidden albums alone still make an empty catalog, even with filters."""
    make_album(in_workbook=False, format=Album.Format.EP)

    html = get_list(client, {"format": "EP"}).content.decode()

    assert EMPTY_CATALOG in html


def test_no_match_says_the_filters_match_nothing(client):
    """With albums but none matching, the page blames the filters."""
    make_album(format=Album.Format.LP)

    html = get_list(client, {"format": "EP"}).content.decode()

    assert EMPTY_FILTERED in html
    assert EMPTY_CATALOG not in html


# --- Pagination ------------------------------------------------------------------------------


def make_albums(count: int, **fields) -> list[Album]:
    """`count` albums, newest first in the returned order (one day apart)."""
    start = datetime.date(2020, 1, 1)
    albums = [
        make_album(release_date=start + datetime.timedelta(days=day), **fields)
        for day in range(count)
    ]
    return albums[::-1]


def test_first_page_holds_fifty_albums(client):
    """The list shows 50 albums a page and a link to the next page."""
    albums = make_albums(ALBUMS_PER_PAGE + 3)

    response = get_list(client)

    assert listed_ids(response) == [album.pk for album in albums[:ALBUMS_PER_PAGE]]
    assert f'href="{LIST_URL}?page=2" rel="next"' in response.content.decode()


def test_second_page_holds_the_rest(client):
    """?page=2 shows the albums after the first 50."""
    albums = make_albums(ALBUMS_PER_PAGE + 3)

    response = get_list(client, {"page": "2"})

    assert listed_ids(response) == [album.pk for album in albums[ALBUMS_PER_PAGE:]]


def test_out_of_range_page_shows_the_last_page(client):
    """A page number past the end shows the last page instead of an error."""
    albums = make_albums(ALBUMS_PER_PAGE + 3)

    response = get_list(client, {"page": "99"})

    assert response.status_code == 200
    assert listed_ids(response) == [album.pk for album in albums[ALBUMS_PER_PAGE:]]


def test_page_links_keep_the_filters(client):
    """Pagination links carry the active filters."""
    make_albums(ALBUMS_PER_PAGE + 1, format=Album.Format.EP)

    html = get_list(client, {"format": "EP"}).content.decode()

    assert f'href="{LIST_URL}?format=EP&amp;page=2"' in html


# --- HTMX ------------------------------------------------------------------------------------


def test_htmx_request_gets_the_results_fragment(client):
    """An HTMX request gets the results region only: no page around it, no filter form."""
    album = make_album()

    response = get_list(client, {"format": "LP"}, HX_Request="true")
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="album-filters"' not in html
    assert html.lstrip().startswith('<section id="album-results"')
    assert listed_ids(response) == [album.pk]
    assert response["Vary"] == "HX-Request, HX-Trigger"


def test_plain_request_gets_the_whole_page(client):
    """A request without HTMX gets the whole page: layout, form and results."""
    make_album()

    html = get_list(client).content.decode()

    assert html.startswith("<!doctype html>")
    assert 'id="album-filters"' in html
    assert 'id="album-results"' in html
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in html
    # A visitor's page carries no CSRF token (it is cached for every visitor); staff's does.
    assert "<body>" in html and "x-csrftoken" not in html


@pytest.mark.parametrize("header", ["HX-Boosted", "HX-History-Restore-Request"])
def test_boosted_and_history_restore_requests_get_the_whole_page(client, header):
    """Requests that replace the whole body (boosted links, history restores) get the page."""
    make_album()

    response = get_list(client, {}, HX_Request="true", **{header: "true"})

    assert "<html" in response.content.decode()


def test_form_uses_htmx_and_works_without_it(client):
    """The filter form is a GET form to the list, with htmx attributes that swap the results."""
    html = get_list(client).content.decode()

    assert f'method="get" action="{LIST_URL}"' in html
    assert f'hx-get="{LIST_URL}" hx-target="#album-results"' in html
    assert 'hx-push-url="true"' in html
    assert 'type="submit"' in html


def test_form_queues_requests_instead_of_aborting_them(client):
    """Quick changes queue the latest request behind the running one: htmx logs an aborted
    request (hx-sync replace) as a console error."""
    html = get_list(client).content.decode()

    assert 'hx-sync="this:queue last"' in html


def test_plain_fragment_carries_no_filter_options(client):
    """A search or filter fragment holds the results and the filter count, not the options."""
    make_album(genres=[make_genre("Djent")], vocal_style=make_vocal_style("Harsh"))

    html = get_fragment(client, {"genre": "djent"}).content.decode()

    assert '<span id="filter-count" class="filters__count" hx-swap-oob="true">1 active</span>' in (
        html
    )
    assert 'id="filter-genre"' not in html
    assert 'id="vocal-options"' not in html
    assert 'id="filter-year"' not in html


def oob_content(html: str, tag: str, element_id: str) -> str:
    """The content of the element swapped out of band as (or into) #element_id."""
    found = re.search(
        rf'<{tag} id="{element_id}"[^>]* hx-swap-oob="(?:innerHTML|true)">(.*?)</{tag}>', html, re.S
    )
    assert found is not None, f"no out-of-band {tag}#{element_id}"
    return found[1]


def test_refresh_after_a_sync_brings_the_new_filter_options(client):
    """The results region's own refresh (syncCompleted) also replaces the genre, vocal style
    and year options out of band, keeping the selected values."""
    html_before = get_list(client).content.decode()
    assert "None yet" in html_before
    make_album(
        genres=[make_genre("Djent"), make_genre("Zeuhl")],
        vocal_style=make_vocal_style("Harsh"),
        release_date=datetime.date(2024, 5, 1),
    )
    make_album(vocal_style=make_vocal_style("Clean"), release_date=datetime.date(2025, 5, 1))

    html = get_refresh(client, {"genre": "djent", "vocal": "harsh", "year": "2024"})
    html = html.content.decode()

    assert html.lstrip().startswith('<section id="album-results"')
    assert oob_content(html, "select", "filter-genre") == (
        '<option value="djent" selected>Djent (1)</option><option value="zeuhl">Zeuhl (1)</option>'
    )
    vocals = oob_content(html, "div", "vocal-options")
    assert 'name="vocal" value="harsh" checked> <bdi>Harsh</bdi>' in vocals
    assert 'name="vocal" value="clean"> <bdi>Clean</bdi>' in vocals
    years = oob_content(html, "select", "filter-year")
    assert re.findall(r'<option value="(\d*)"( selected)?>', years) == [
        ("", ""),
        ("2025", ""),
        ("2024", " selected"),
    ]
    # The search box is not part of it: what the visitor types and the focus stay.
    assert 'id="filter-q"' not in html


def test_results_refresh_on_sync_completed_keep_the_filters(client):
    """The results region reloads itself (same filters) when a sync completes."""
    make_album(format=Album.Format.EP)

    html = get_list(client, {"format": "EP", "q": ""}).content.decode()

    region = re.search(r'<section id="album-results"[^>]*>', html)
    assert region is not None
    assert f'hx-get="{LIST_URL}?format=EP"' in region.group()
    assert 'hx-trigger="syncCompleted from:body"' in region.group()


def test_an_empty_catalog_also_refreshes_when_a_sync_starts(client):
    """With no albums yet, the results reload when a sync starts too (the empty state then
    says a sync is running, not to press Sync Now)."""
    html = get_list(client).content.decode()

    assert 'hx-trigger="syncStarted from:body, syncCompleted from:body"' in html


def test_form_shows_the_active_values(client):
    """The form is filled in with the current filters."""
    make_album(genres=[make_genre("Djent")], vocal_style=make_vocal_style("Harsh"))

    html = get_list(
        client, {"genre": "djent", "vocal": "harsh", "q": "x<y", "debut": "1", "year": "2025"}
    ).content.decode()

    assert '<option value="djent" selected>Djent (1)</option>' in html
    assert 'name="vocal" value="harsh" checked' in html
    assert 'name="q" value="x&lt;y"' in html
    assert 'name="debut" value="1" checked' in html
    assert '<option value="2025" selected>2025</option>' in html


def test_empty_catalog_has_no_genre_list_but_a_note(client):
    """With no genres the list is empty (the CSS then hides it) and a note says so."""
    html = get_list(client).content.decode()

    assert (
        '<select id="filter-genre" name="genre" multiple size="8" '
        'aria-describedby="genre-multi-hint"></select>'
    ) in html
    assert '<p class="field__hint genre-empty">No genres yet</p>' in html


def test_genre_list_says_how_to_pick_several(client):
    """The multiple-choice genre list explains the modifier key it needs."""
    make_album(genres=[make_genre("Djent")])

    html = get_list(client).content.decode()

    assert 'aria-describedby="genre-multi-hint"' in html
    assert (
        '<p id="genre-multi-hint" class="field__hint genre-multi-hint">'
        "Ctrl-click (⌘-click on a Mac) to pick several.</p>"
    ) in html


def test_genre_options_are_most_used_first_with_counts(client):
    """Genre options come most used first (visible albums only), then by name."""
    rare, common, tie = make_genre("Zeuhl"), make_genre("Djent"), make_genre("Ambient")
    make_album(genres=[common, rare])
    make_album(genres=[common, tie])
    make_album(genres=[common])
    make_album(genres=[rare], in_workbook=False)

    html = get_list(client).content.decode()
    options = re.findall(r'<option value="([a-z-]+)">[^<]*\((\d+)\)</option>', html)

    assert options == [("djent", "3"), ("ambient", "1"), ("zeuhl", "1")]


# --- Links to the detail page -----------------------------------------------------------------


def test_artist_name_links_to_the_artist_page(client):
    """A tile's artist name links to the artist's page, the name escaped."""
    album = make_album(artist="Dream & Theatre")

    html = get_list(client).content.decode()

    artist_url = reverse("catalog:artist-detail", args=[album.artist.pk])
    assert f'<a href="{artist_url}" title="Every album of Dream &amp; Theatre">' in html


def test_tiles_link_to_the_detail_page_with_the_list_url(client):
    """A tile links to the album, passing the current list URL (filters and page) along."""
    album = make_album(format=Album.Format.EP)

    html = get_list(client, {"format": "EP"}).content.decode()

    back = quote(f"{LIST_URL}?format=EP", safe="")
    assert f'href="{reverse("catalog:album-detail", args=[album.pk])}?back={back}"' in html


# --- Query count -----------------------------------------------------------------------------


def fill_catalog(albums: int, genres: int) -> None:
    genre_rows = [make_genre(f"Genre {n}") for n in range(genres)]
    styles = [make_vocal_style("Harsh"), make_vocal_style("Clean")]
    for n in range(albums):
        make_album(
            genres=[genre_rows[n % genres], genre_rows[(n + 1) % genres]],
            vocal_style=styles[n % 2],
            cover_thumbnail_url="https://i.scdn.co/image/x" if n % 2 else "",
        )
    for extra in genre_rows[albums:]:
        make_album(genres=[extra], in_workbook=True)


# Genre facets (links per genre, hidden albums' links, names), vocal styles, years, count, the
# page of albums, their genres, and the sync panel (one query when no sync ever ran).
LIST_QUERIES = 9
# Count, page of albums, their genres; plus one lookup each for requested genres and vocal
# styles. No facets, vocal style options or years.
FRAGMENT_QUERIES = 3
# The refresh after a sync: the page's queries without the sync panel.
REFRESH_QUERIES = LIST_QUERIES - 1
FILTERS = {"genre": "genre-1", "vocal": "harsh", "q": "album", "year": "2025"}


@pytest.mark.parametrize(("albums", "genres"), [(5, 3), (50, 3), (5, 60), (50, 60)])
@pytest.mark.parametrize("params", [{}, FILTERS])
def test_list_uses_a_fixed_number_of_queries(
    client, django_assert_num_queries, albums, genres, params
):
    """The list costs the same queries whatever the page size and the number of genres."""
    fill_catalog(albums, genres)

    with django_assert_num_queries(LIST_QUERIES):
        response = get_list(client, params)

    shown = len(listed_ids(response))
    if params:
        assert shown > 0
    else:
        assert shown == min(ALBUMS_PER_PAGE, albums + max(0, genres - albums))


@pytest.mark.parametrize(("albums", "genres"), [(5, 3), (50, 60)])
@pytest.mark.parametrize(
    ("params", "lookups"),
    [({}, 0), ({"q": "album", "year": "2025"}, 0), ({"genre": "genre-1"}, 1), (FILTERS, 2)],
)
def test_htmx_fragment_skips_the_filter_options(
    client, django_assert_num_queries, albums, genres, params, lookups
):
    """A fragment looks up only the genres and vocal styles it asks for: no facet counts."""
    fill_catalog(albums, genres)

    with django_assert_num_queries(FRAGMENT_QUERIES + lookups) as captured:
        response = get_fragment(client, params)

    assert listed_ids(response)
    # The facets count links per genre; nothing else groups.
    assert not any("GROUP BY" in query["sql"] for query in captured)


@pytest.mark.parametrize(("albums", "genres"), [(5, 3), (50, 60)])
def test_refresh_after_a_sync_uses_a_fixed_number_of_queries(
    client, django_assert_num_queries, albums, genres
):
    """The refresh with the filter options costs the page's queries, without the sync panel."""
    fill_catalog(albums, genres)

    with django_assert_num_queries(REFRESH_QUERIES):
        get_refresh(client, FILTERS)


# --- Detail page -----------------------------------------------------------------------------


def detail_url(album: Album, **params: str) -> str:
    url = reverse("catalog:album-detail", args=[album.pk])
    return f"{url}?{urlencode(params)}" if params else url


def test_detail_shows_every_field(client):
    """The detail page shows the album's facts and its large cover."""
    album = make_album(
        title="Monolith",
        artist="Vessel of Ash",
        release_date=datetime.date(2024, 6, 1),
        release_date_precision=Album.DatePrecision.MONTH,
        release_list=Album.ReleaseList.PROG_ROCK,
        format=Album.Format.EP,
        is_debut=True,
        is_reissue=True,
        country="Ontario, Canada",
        vocal_style=make_vocal_style("Mixed"),
        genres=[make_genre("Djent"), make_genre("Zeuhl")],
        total_tracks=7,
        cover_image_url="https://i.scdn.co/image/large",
        cover_thumbnail_url="https://i.scdn.co/image/thumb",
    )

    html = client.get(detail_url(album)).content.decode()

    for text in [
        '<h1 class="album-detail__title"><bdi>Monolith</bdi></h1>',
        "Vessel of Ash",
        '<time datetime="2024-06">June 2024</time>',
        "Prog-rock",
        "<dd>EP</dd>",
        "Ontario, Canada",
        "<dd>Mixed</dd>",
        "><bdi>Djent</bdi></a>, <a",
        "><bdi>Zeuhl</bdi></a>",
        "<dd>7</dd>",
        '<img src="https://i.scdn.co/image/large" alt="Cover of Monolith"',
    ]:
        assert text in html
    assert "no longer in the workbook" not in html


def test_detail_links_to_every_listening_service_in_a_new_tab(client):
    """Spotify, Bandcamp, YouTube, Apple Music and Amazon links open safely in a new tab."""
    album = make_album(
        spotify_url="https://open.spotify.com/album/abc",
        bandcamp_url="https://band.bandcamp.com/album/x",
        youtube_url="https://youtube.com/playlist?list=1",
        apple_music_url="https://music.apple.com/album/1",
        amazon_url="https://amazon.com/dp/1",
    )

    html = client.get(detail_url(album)).content.decode()

    for url, label in [
        ("https://open.spotify.com/album/abc", "Spotify"),
        ("https://band.bandcamp.com/album/x", "Bandcamp"),
        ("https://youtube.com/playlist?list=1", "YouTube"),
        ("https://music.apple.com/album/1", "Apple Music"),
        ("https://amazon.com/dp/1", "Amazon"),
    ]:
        escaped = url.replace("&", "&amp;")
        assert (
            f'<a class="listen" href="{escaped}" target="_blank" rel="noopener noreferrer">'
            f"{label}</a>"
        ) in html


def test_detail_shows_only_web_links(client):
    """A link that is not http(s) (say `javascript:`) is not shown as a link."""
    album = make_album(spotify_url="javascript:alert(1)", bandcamp_url="")

    html = client.get(detail_url(album)).content.decode()

    assert "javascript:" not in html
    assert "No listening links in the workbook." in html


def test_detail_without_cover_shows_the_placeholder(client):
    """An album without cover art shows the placeholder, large."""
    album = make_album(cover_image_url="", cover_thumbnail_url="")

    html = client.get(detail_url(album)).content.decode()

    assert 'class="cover-placeholder" src="/static/img/cover-placeholder.svg"' in html


def test_detail_of_a_hidden_album_says_so(client):
    """A hidden album's page still works and says it left the workbook."""
    album = make_album(in_workbook=False)

    response = client.get(detail_url(album))

    assert response.status_code == 200
    assert "This album is no longer in the workbook" in response.content.decode()


def test_detail_of_an_unknown_album_is_404(client):
    """An id that is no album answers 404."""
    assert client.get(reverse("catalog:album-detail", args=[999_999])).status_code == 404


def test_detail_escapes_workbook_values(client):
    """Text from the workbook is escaped on the detail page too."""
    album = make_album(title="<script>x</script>", country="<b>X</b>")

    html = client.get(detail_url(album)).content.decode()

    assert "<script>x</script>" not in html
    assert "<b>X</b>" not in html


def test_back_link_returns_to_the_filtered_list(client):
    """The "Back to albums" link returns to the list URL the visitor came from, filters kept."""
    album = make_album()

    html = client.get(detail_url(album, back=f"{LIST_URL}?genre=djent&format=EP&page=2"))

    assert (
        f'<a href="{LIST_URL}?genre=djent&amp;format=EP&amp;page=2">‹ Back to albums</a>'
        in html.content.decode()
    )


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/catalog/albums/",
        "//evil.example/catalog/albums/?q=1",
        "/admin/",
        "javascript:alert(1)",
        "",
    ],
)
def test_back_link_never_leaves_the_album_list(client, back):
    """A `back` value that is not the album list falls back to the plain list URL."""
    album = make_album()

    html = client.get(detail_url(album, back=back)).content.decode()

    assert f'<a href="{LIST_URL}">‹ Back to albums</a>' in html
    assert not re.search(r'href="(https?:)?//evil', html)


# --- Page layout -----------------------------------------------------------------------------


def test_visitor_sees_a_log_in_link_back_to_the_page(client):
    """Anonymous visitors get a log-in link that returns to the page, and no staff links."""
    html = get_list(client, {"format": "EP"}).content.decode()

    assert '<a href="/admin/login/?next=/catalog/albums/%3Fformat%3DEP">Log in</a>' in html
    assert reverse("catalog:sync-history") not in html
    assert "Log out" not in html


def test_staff_see_sync_history_and_a_log_out_form(client, staff_user):
    """Staff get the sync history link and a POST log-out form."""
    client.force_login(staff_user)

    html = get_list(client).content.decode()

    assert f'<a href="{reverse("catalog:sync-history")}">Sync history</a>' in html
    assert f'<form class="site-nav__logout" method="post" action="{reverse("admin:logout")}">' in (
        html
    )
    assert "Log in" not in html


def test_log_out_returns_to_the_page(client, staff_user):
    """Logging out from a page brings the visitor back to it, logged out."""
    client.force_login(staff_user)

    response = client.post(reverse("admin:logout"), {"next": f"{LIST_URL}?format=EP"})

    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?format=EP"
    assert "_auth_user_id" not in client.session


def test_favicon_ico_redirects_to_the_svg_icon(client):
    """/favicon.ico, asked for by browsers on their own, redirects to the site's icon."""
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"
    assert "max-age=86400" in response["Cache-Control"]


def test_pages_link_their_icon(client):
    """Every page names its icon, so browsers need not guess."""
    html = client.get(detail_url(make_album())).content.decode()

    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in html


def add_message(client, staff_user) -> None:
    """A message in the session: a no-JavaScript Cancel with no sync running leaves one."""
    client.force_login(staff_user)
    response = client.post(reverse("catalog:sync-cancel"))
    assert response.status_code == 303


def test_messages_show_on_other_pages_as_a_status(client, staff_user):
    """Django messages are shown at the top of a page, announced as a status."""
    add_message(client, staff_user)

    html = client.get(detail_url(make_album())).content.decode()

    assert '<ul class="messages" role="status">' in html
    assert f'<li class="messages__item messages__item--error">{NO_ACTIVE_SYNC}</li>' in html


def test_messages_show_once_on_the_album_list(client, staff_user):
    """The album list shows a message exactly once (the sync panel shows it there)."""
    add_message(client, staff_user)

    assert client.get(LIST_URL).content.decode().count(NO_ACTIVE_SYNC) == 1


# --- Footer credit ---------------------------------------------------------------------------


def test_footer_credits_spotify_only_when_a_spotify_cover_is_shown(client):
    """Covers come from Spotify; a page without one does not say so."""
    album = make_album(cover_thumbnail_url="")
    assert "covers from Spotify" not in get_list(client).content.decode()
    detail = reverse("catalog:album-detail", args=[album.pk])
    assert "covers from Spotify" not in client.get(detail).content.decode()

    make_album(cover_thumbnail_url="https://i.scdn.co/image/abc")
    assert "covers from Spotify" in get_list(client).content.decode()


@pytest.mark.parametrize("query", ["bjork", "BJÖRK", "Björk"])
def test_search_ignores_case_and_accents_in_artist_names(client, query):
    """Björk is found whatever the case and with or without the accent."""
    match = make_album(artist=make_artist(name="Björk"))
    make_album(artist=make_artist(name="Bjorn"))

    assert listed_ids(get_list(client, {"q": query})) == [match.pk]


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("Blue Öyster Cult", "blue oyster"),
        ("Außerwelt", "ausserwelt"),
        ("Bjørn Riis", "bjorn riis"),
    ],
)
def test_search_folds_letters_beyond_accents(client, name, query):
    """ö, ß and ø match their plain spellings, as people type them."""
    match = make_album(artist=make_artist(name=name))
    make_album(artist=make_artist(name="Haken"))

    assert listed_ids(get_list(client, {"q": query})) == [match.pk]


def test_search_ignores_case_of_accented_titles_and_genres(client):
    """Upper-case accented text finds lower-case accented titles and genres."""
    title = make_album(title="An Tóramh")
    genre = make_album(genres=[make_genre("Música Progresiva")])
    make_album(title="Other")

    assert listed_ids(get_list(client, {"q": "TÓRAMH"})) == [title.pk]
    assert listed_ids(get_list(client, {"q": "MUSICA"})) == [genre.pk]


# --- Search by words -------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["haken live", "live haken", "  haken   LIVE ", "HAKEN Lïve"])
def test_search_matches_every_word_in_any_order_and_field(client, query):
    """Each word may match a different field (artist, title): order, spacing and case do not
    matter; an album missing one of the words is not listed."""
    title = "Liveforms: An Evening With Haken (Live in London 2024)"
    match = make_album(title=title, artist=make_artist(name="Haken"))
    make_album(title="Virus", artist=make_artist(name="Haken Tribute"))
    make_album(title="Live in Tokyo", artist=make_artist(name="Leprous"))

    assert listed_ids(get_list(client, {"q": query})) == [match.pk]


def test_search_words_may_match_a_genre(client):
    """A word matching one of the album's genres counts, alongside a word in the artist name."""
    match = make_album(artist=make_artist(name="Björk"), genres=[make_genre("Art Pop")])
    make_album(artist=make_artist(name="Björk Tribute"), genres=[make_genre("Djent")])

    assert listed_ids(get_list(client, {"q": "pop bjork"})) == [match.pk]
    assert listed_ids(get_list(client, {"q": "pop bjork zzz"})) == []


def test_a_word_inside_another_changes_nothing(client):
    """ "prog progressive" finds what "progressive" finds (the shorter word is implied)."""
    match = make_album(genres=[make_genre("Progressive Metal")])
    make_album(genres=[make_genre("Prog Rock")])

    assert listed_ids(get_list(client, {"q": "prog progressive"})) == [match.pk]
    assert len(listed_ids(get_list(client, {"q": "prog"}))) == 2


def test_a_search_longer_than_allowed_is_cut_with_a_note(client):
    """A hand-made ?q= over the limit is cut to its start and says so; the chip shows what was
    searched. The box itself never sends more (maxlength)."""
    match = make_album(title="Obsidian")
    make_album(title="Other")
    long_query = "obsidian " + "x" * (SEARCH_MAX_LENGTH * 2)

    response = get_list(client, {"q": long_query})
    html = response.content.decode()

    assert response.status_code == 200
    assert SEARCH_CUT_NOTE.format(limit=SEARCH_MAX_LENGTH) in unescape(html)
    cut = long_query[:SEARCH_MAX_LENGTH]
    assert f"Search: {cut}" in chip_links(response)
    assert listed_ids(response) == []  # the cut query still asks for the x's
    assert f'maxlength="{SEARCH_MAX_LENGTH}"' in html

    short = get_list(client, {"q": "obsidian"})
    assert "search-note" not in short.content.decode()
    assert listed_ids(short) == [match.pk]


def test_a_cut_search_is_noted_in_the_htmx_fragment_too(client):
    """The note lives in the results region, so a search typed through HTMX shows it as well."""
    make_album(title="Obsidian")

    html = get_fragment(client, {"q": "o" * (SEARCH_MAX_LENGTH + 1)}).content.decode()

    assert 'id="search-note"' in html
