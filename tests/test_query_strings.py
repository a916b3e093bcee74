"""No query string makes a 500: Hypothesis sends generated values (odd bytes, NUL, digits that
`int()` refuses, invalid UTF-8, URLs that do not parse) for every parameter of every GET view,
with and without the htmx and JSON headers the views answer differently to. Runs on SQLite and
on PostgreSQL (which refuses a NUL in any text it is sent).
"""

from __future__ import annotations

import datetime
from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.factories import make_album, make_genre, make_vocal_style
from tests.support.sync_factories import make_operation

pytestmark = pytest.mark.django_db

FILTERS = ["q", "genre", "vocal", "year", "list", "format", "debut", "sort", "page"]
# Values that broke a view once, or look like what a view parses.
AWKWARD = [
    "\x00",
    "a\x00b",
    "²",
    "①",
    "٣",  # an Arabic-Indic digit: str.isdigit() and int() both accept it
    "9" * 40,
    "-1",
    "0",
    "1e3",
    " 7 ",
    "http://[",
    "//evil.example",
    "https://evil.example/catalog/albums/",
    "/catalog/albums/?page=%00",
    "djent",
    "prog-metal",
    "\ud800",  # a lone surrogate: sent as the bytes Python would refuse to encode
]

values = st.one_of(
    st.sampled_from(AWKWARD).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30).map(str.encode),
    st.binary(max_size=30),
)


def query_strings(names: list[str]) -> st.SearchStrategy[str]:
    """`name=value&...` with the view's own parameter names (and one it does not know),
    each value percent-encoded from raw bytes, so invalid UTF-8 reaches the view as well."""
    pairs = st.lists(st.tuples(st.sampled_from([*names, "other"]), values), max_size=6)
    return pairs.map(
        lambda items: "&".join(f"{name}={quote_from_bytes(value)}" for name, value in items)
    )


HEADER_SETS = st.sampled_from(
    [
        {},
        {"HX-Request": "true"},
        {"HX-Request": "true", "HX-Trigger": "album-results"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {"Accept": "application/json"},
    ]
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def catalog():
    """A small catalog that every page has something to show for (and a finished sync)."""
    djent, vocals = make_genre("Djent"), make_vocal_style("Harsh")
    past = make_album(genres=[djent], vocal_style=vocals, country="Norway")
    make_album(release_date=datetime.date.today() + datetime.timedelta(days=30), genres=[djent])
    make_operation()
    return past


def assert_no_server_error(client, url: str, query: str, headers: dict[str, str]) -> None:
    response = client.get(f"{url}?{query}", headers=headers)
    assert response.status_code < 500, (url, query, headers)


@pytest.mark.parametrize(
    "name",
    ["album-list", "upcoming", "upcoming-ics", "feed", "stats", "sync-history"],
)
@FUZZ
@given(query=query_strings(FILTERS), headers=HEADER_SETS)
def test_the_catalog_pages_answer_any_query_string(client, catalog, name, query, headers):
    assert_no_server_error(client, reverse(f"catalog:{name}"), query, headers)


@FUZZ
@given(query=query_strings(["since", "watching", "announced"]), headers=HEADER_SETS)
def test_the_sync_status_answers_any_query_string(client, catalog, query, headers):
    assert_no_server_error(client, reverse("catalog:sync-status"), query, headers)


@FUZZ
@given(query=query_strings(["back"]), headers=HEADER_SETS)
def test_the_album_and_artist_pages_answer_any_query_string(client, catalog, query, headers):
    assert_no_server_error(client, catalog.get_absolute_url(), query, headers)
    artist_url = reverse("catalog:artist-detail", args=[catalog.artist.pk])
    assert_no_server_error(client, artist_url, query, headers)


@FUZZ
@given(query=query_strings(["since", "watching", "announced"]), headers=HEADER_SETS)
def test_staff_pages_answer_any_query_string(admin_client, catalog, query, headers):
    operation_id = make_operation().pk
    for url in (
        reverse("catalog:sync-status"),
        reverse("catalog:sync-history"),
        reverse("catalog:sync-notes", args=[operation_id]),
        reverse("catalog:album-list"),
    ):
        assert_no_server_error(admin_client, url, query, headers)


@pytest.mark.parametrize(
    "url",
    [
        "/catalog/upcoming.ics?genre=%00",
        "/catalog/feed/?vocal=a%00b",
        "/catalog/stats/?genre=%00",
        "/catalog/albums/?genre=%00&q=%00",
        "/catalog/upcoming/?vocal=%00",
        "/catalog/sync/status/?since=%C2%B2",
        "/catalog/sync/status/?since=%E2%91%A0",
        "/catalog/sync/status/?watching=%C2%B2",
    ],
)
@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}, {"Accept": "application/json"}])
def test_the_query_strings_that_once_made_a_500(client, catalog, url, headers):
    """The cases found by hand, kept as plain examples: a NUL in a filter (PostgreSQL refused
    it with a DataError), and digits that str.isdigit() accepts and int() does not."""
    response = client.get(url, headers=headers)

    assert response.status_code in (200, 204)


@pytest.mark.parametrize(
    "url",
    [
        "/catalog/albums/99999999999999999999999/",
        "/catalog/artists/99999999999999999999999/",
        "/catalog/sync/history/99999999999999999999999/notes/",
    ],
)
def test_an_id_larger_than_the_database_holds_is_a_404(admin_client, url):
    assert admin_client.get(url).status_code == 404
