"""Visitors' pages from the cache (catalog/page_cache.py): keyed by the catalog version, never
for a request with a session, and no session query on a visitor's request.

The test settings turn the cache off (PAGE_CACHE_SECONDS=0); these tests turn it on. Cross-process
behaviour (two gunicorn workers, a real sync) is in tests/e2e/test_page_cache.py.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import SyncOperation
from catalog.page_cache import CACHE_HEADER
from catalog.views import RESULTS_REGION_ID
from tests.support.factories import make_album, make_artist
from tests.support.sync_factories import make_operation

Status = SyncOperation.Status
LIST_URL = reverse("catalog:album-list")
TILE_ID = re.compile(r'data-album-id="(\d+)"')
HTMX = {"HX-Request": "true"}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 600
    settings.PAGE_CACHE_ACTIVE_SECONDS = 5
    cache.clear()
    yield
    cache.clear()


def listed(response) -> set[int]:
    return {int(pk) for pk in TILE_ID.findall(response.content.decode())}


def test_a_visitors_list_page_is_served_from_the_cache_with_one_query(client):
    """The second identical request is a hit: the same bytes, and its only query is the panel's
    read of the latest sync (the catalog version)."""
    make_album()
    first = client.get(LIST_URL)
    assert first[CACHE_HEADER] == "miss"

    with CaptureQueriesContext(connection) as queries:
        second = client.get(LIST_URL)

    assert second[CACHE_HEADER] == "hit"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert len(queries) == 1
    assert "catalog_syncoperation" in queries[0]["sql"]


@pytest.mark.parametrize("path", ["list", "fragment", "detail"])
def test_a_visitors_request_makes_no_session_query(client, path):
    """Neither a miss nor a hit reads the session table (or any auth table)."""
    album = make_album()
    url, headers = {
        "list": (LIST_URL, {}),
        "fragment": (LIST_URL + "?q=album&page=1", HTMX),
        "detail": (reverse("catalog:album-detail", args=[album.pk]), {}),
    }[path]
    for expected in ("miss", "hit"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert response[CACHE_HEADER] == expected
        tables = " ".join(query["sql"] for query in queries)
        assert "django_session" not in tables
        assert "auth_user" not in tables
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies


def test_page_and_fragments_are_separate_entries(client):
    """The full page, a filter fragment and the results region's own refresh differ in content:
    each has its own entry, and a hit answers each with its own."""
    make_album()
    page = client.get(LIST_URL)
    fragment = client.get(LIST_URL, headers=HTMX)
    refresh = client.get(LIST_URL, headers={**HTMX, "HX-Trigger": RESULTS_REGION_ID})
    assert [r[CACHE_HEADER] for r in (page, fragment, refresh)] == ["miss"] * 3
    assert page.content.decode().startswith("<!doctype html>")
    assert fragment.content.decode().lstrip().startswith("<section")

    again = [
        client.get(LIST_URL),
        client.get(LIST_URL, headers=HTMX),
        client.get(LIST_URL, headers={**HTMX, "HX-Trigger": RESULTS_REGION_ID}),
    ]
    assert [r[CACHE_HEADER] for r in again] == ["hit"] * 3
    assert [r.content for r in again] == [page.content, fragment.content, refresh.content]
    assert "HX-Request" in again[1]["Vary"] and "Cookie" in again[1]["Vary"]


def test_a_completed_sync_is_seen_by_the_next_request(client):
    """A new completed sync row changes the catalog version: the next request misses the old
    entry and lists the album that sync added."""
    old = make_album()
    make_operation(status=Status.COMPLETED)
    assert listed(client.get(LIST_URL)) == {old.pk}
    assert client.get(LIST_URL)[CACHE_HEADER] == "hit"

    new = make_album()  # what the next sync writes...
    assert listed(client.get(LIST_URL)) == {old.pk}  # ...is not shown before it completes
    make_operation(status=Status.COMPLETED)

    response = client.get(LIST_URL)
    assert response[CACHE_HEADER] == "miss"
    assert listed(response) == {old.pk, new.pk}


def test_entries_made_during_a_sync_live_only_the_active_limit(client, settings):
    """While a sync runs the catalog changes under it: its entries expire after
    PAGE_CACHE_ACTIVE_SECONDS (0 here: not kept at all)."""
    settings.PAGE_CACHE_ACTIVE_SECONDS = 0
    make_album()
    make_operation(status=Status.RUNNING)
    assert client.get(LIST_URL)[CACHE_HEADER] == "miss"
    added = make_album()
    response = client.get(LIST_URL)
    assert response[CACHE_HEADER] == "miss"
    assert added.pk in listed(response)


def test_staff_pages_are_never_stored_nor_served_from_a_visitors_entry(client, staff_user):
    """Staff are rendered live (their panel has the buttons and the CSRF token); what they get
    is never stored, and what visitors get never reaches them."""
    make_album()
    staff = type(client)()
    staff.force_login(staff_user)

    first = staff.get(LIST_URL)
    assert first[CACHE_HEADER] == "bypass"
    visitor = client.get(LIST_URL)
    assert visitor[CACHE_HEADER] == "miss"  # the staff page was not stored

    again = staff.get(LIST_URL)
    assert again[CACHE_HEADER] == "bypass"
    staff_html = again.content.decode()
    assert 'id="sync-button"' in staff_html
    assert "x-csrftoken" in staff_html
    assert "Log out" in staff_html

    visitor_html = client.get(LIST_URL).content.decode()
    assert 'id="sync-button"' not in visitor_html
    assert "csrfmiddlewaretoken" not in visitor_html and "x-csrftoken" not in visitor_html
    assert "Log in" in visitor_html


def test_the_status_panel_is_never_cached(client, staff_user):
    """The status endpoint stays live for everyone: no cache header, no-cache headers."""
    operation = make_operation(status=Status.RUNNING, processed=1, total=10)
    client.get(LIST_URL)
    first = client.get(reverse("catalog:sync-status"), headers={"Accept": "application/json"})
    SyncOperation.objects.filter(pk=operation.pk).update(processed=7)
    second = client.get(reverse("catalog:sync-status"), headers={"Accept": "application/json"})
    assert (first.json()["processed"], second.json()["processed"]) == (1, 7)
    assert CACHE_HEADER not in second
    assert "no-cache" in second["Cache-Control"]


@pytest.mark.parametrize("cookie", ["sessionid", "messages"])
def test_a_request_with_a_session_or_a_flash_message_is_not_cached(client, cookie):
    """A session cookie (even a stale one) or a pending message: rendered, never stored."""
    make_album()
    client.cookies[cookie] = "something"
    assert client.get(LIST_URL)[CACHE_HEADER] == "bypass"
    del client.cookies[cookie]
    assert client.get(LIST_URL)[CACHE_HEADER] == "miss"


def test_album_and_artist_pages_are_cached_and_404s_are_not(client):
    """Detail pages are cached like the list; a 404 is not stored: once the album exists, the
    same URL shows it."""
    album = make_album(artist=make_artist(name="Cached Band"))
    detail = reverse("catalog:album-detail", args=[album.pk])
    artist = reverse("catalog:artist-detail", args=[album.artist.pk])
    assert [client.get(url)[CACHE_HEADER] for url in (detail, artist)] == ["miss", "miss"]
    assert [client.get(url)[CACHE_HEADER] for url in (detail, artist)] == ["hit", "hit"]

    later = reverse("catalog:album-detail", args=[album.pk + 100])
    assert client.get(later).status_code == 404
    make_album(pk=album.pk + 100, title="Arrived Later")
    response = client.get(later)
    assert response.status_code == 200
    assert "Arrived Later" in response.content.decode()


def test_a_zero_lifetime_turns_the_cache_off(client, settings):
    settings.PAGE_CACHE_SECONDS = 0
    make_album()
    assert client.get(LIST_URL)[CACHE_HEADER] == "bypass"
    assert client.get(LIST_URL)[CACHE_HEADER] == "bypass"


@pytest.mark.parametrize(
    "name", ["catalog:upcoming", "catalog:upcoming-ics", "catalog:feed", "catalog:stats"]
)
def test_the_pages_beyond_the_list_are_cached_with_their_headers(client, name):
    """The upcoming page, its calendar, the feed and the statistics are cached like the list: a
    hit answers the same bytes with the same content type (and the calendar's download name)."""
    make_album()
    url = reverse(name)
    first = client.get(url)
    second = client.get(url)

    assert (first[CACHE_HEADER], second[CACHE_HEADER]) == ("miss", "hit")
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second.get("Content-Disposition") == first.get("Content-Disposition")


def test_an_entry_does_not_outlive_the_sites_day(client, monkeypatch):
    """What is upcoming changes at midnight without a sync: the day is part of the key."""
    import datetime

    from django.utils import timezone

    url = reverse("catalog:upcoming")
    assert client.get(url)[CACHE_HEADER] == "miss"
    assert client.get(url)[CACHE_HEADER] == "hit"
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: tomorrow)

    assert client.get(url)[CACHE_HEADER] == "miss"
