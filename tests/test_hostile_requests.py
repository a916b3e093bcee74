"""What a hostile visitor sends: a forged Host header, HEAD requests, password guessing at the
admin login, workbook text made to break a calendar or reorder a page. Query strings with odd
bytes are in tests/test_query_strings.py.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from catalog.admin import LOGIN_THROTTLED
from catalog.page_cache import CACHE_HEADER
from tests.support.factories import make_album, make_artist

pytestmark = pytest.mark.django_db

SITE = "https://progmetal.example"  # tests/settings.py's SITE_URL
FORGED_HOST = "localhost:31337"  # accepted: ALLOWED_HOSTS ignores the port
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
UPCOMING = NOW.date() + datetime.timedelta(days=10)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def page_cache_on(settings):
    settings.PAGE_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


# --- the Host header ----------------------------------------------------------------------------

PAGES_WITH_ABSOLUTE_URLS = [
    reverse("catalog:feed"),
    reverse("catalog:upcoming-ics"),
    reverse("catalog:upcoming"),
]


@pytest.mark.parametrize("url", PAGES_WITH_ABSOLUTE_URLS)
def test_a_forged_host_never_reaches_a_page_or_the_cache(client, page_cache_on, url):
    """A request under a made-up host and port gets (and caches) links to SITE_URL only; the
    next visitor, under the real host, is not served the forged request's entry."""
    make_album(release_date=UPCOMING)

    forged = client.get(url, HTTP_HOST=FORGED_HOST)
    honest = client.get(url)

    assert forged.status_code == honest.status_code == 200
    assert "31337" not in forged.content.decode()
    assert SITE.removeprefix("https://") in forged.content.decode()
    assert honest[CACHE_HEADER] == "miss"  # one host's entry never answers another
    assert honest.content == forged.content


def test_calendar_uids_and_links_come_from_the_site_address(client):
    album = make_album(release_date=UPCOMING)

    response = client.get(reverse("catalog:upcoming-ics"), HTTP_HOST=FORGED_HOST)

    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["UID"]) == f"album-{album.pk}@progmetal.example"
    assert str(event["URL"]) == f"{SITE}{album.get_absolute_url()}"


def test_the_feeds_ids_and_links_come_from_the_site_address(client):
    album = make_album()

    atom = client.get(reverse("catalog:feed"), HTTP_HOST=FORGED_HOST).content.decode()

    assert f"<id>{SITE}{album.get_absolute_url()}</id>" in atom
    assert f'<link href="{SITE}/catalog/albums/" rel="alternate"' in atom
    assert "localhost" not in atom


def test_the_webcal_link_comes_from_the_site_address(client):
    html = client.get(reverse("catalog:upcoming"), HTTP_HOST=FORGED_HOST).content.decode()

    assert 'href="webcal://progmetal.example/catalog/upcoming.ics"' in html


# --- HEAD -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["album-list", "upcoming", "upcoming-ics", "feed", "stats", "sync-status"]
)
def test_head_is_answered_like_get(client, name):
    """Monitoring sends HEAD: the same status and headers as GET, no body."""
    url = reverse(f"catalog:{name}")

    response = client.head(url)

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == client.get(url)["Content-Type"]


# --- the Content-Security-Policy -------------------------------------------------------------


def test_every_page_forbids_inline_script_and_eval(client):
    policy = client.get(reverse("catalog:album-list"))["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_no_page_carries_inline_script_or_event_handlers(client, admin_client):
    """What the policy would block is not there to block: no <script> without src, no on*=
    attributes, no htmx trigger filter (htmx evaluates those as script)."""
    album = make_album(release_date=UPCOMING, spotify_album_id="4uLU6hMCjMI75M1A2tKUQC")
    pages = [
        reverse("catalog:album-list"),
        album.get_absolute_url(),
        reverse("catalog:artist-detail", args=[album.artist.pk]),
        reverse("catalog:upcoming"),
        reverse("catalog:stats"),
        reverse("catalog:sync-history"),
    ]
    for browser in (client, admin_client):
        for url in pages:
            html = browser.get(url).content.decode()
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
            assert not re.search(r"\son[a-z]+=", html), url
            assert not re.search(r'hx-trigger="[^"]*\[', html), url


# --- the admin login --------------------------------------------------------------------------


@pytest.fixture
def throttle(settings):
    settings.ADMIN_LOGIN_RATE_PER_ADDRESS = "5/m"
    settings.ADMIN_LOGIN_RATE_PER_USERNAME = "8/h"
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


def guess(client, username: str, *, address: str = "203.0.113.7"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": "wrong"},
        REMOTE_ADDR=address,
    )


def test_admin_login_refuses_an_address_that_guesses_too_often(client, throttle):
    """Past the rate, a 429 with Retry-After and the reason, before any password is checked;
    another address is not affected."""
    get_user_model().objects.create_user("admin", password="right-password", is_staff=True)
    answers = [guess(client, "admin").status_code for _ in range(6)]

    assert answers == [200] * 5 + [429]
    refused = guess(client, "someone")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert LOGIN_THROTTLED in refused.content.decode()
    assert guess(client, "someone", address="198.51.100.1").status_code == 200


def test_admin_login_refuses_a_username_guessed_from_many_addresses(client, throttle):
    answers = [guess(client, "Admin", address=f"198.51.100.{n}").status_code for n in range(9)]

    assert answers == [200] * 8 + [429]


def test_a_throttled_address_cannot_log_in_even_with_the_right_password(client, throttle):
    get_user_model().objects.create_user("admin", password="right-password", is_staff=True)
    for _ in range(5):
        guess(client, "admin")

    response = client.post(
        reverse("admin:login"),
        {"username": "admin", "password": "right-password"},
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_login_page_itself_is_never_throttled(client, throttle):
    for _ in range(8):
        guess(client, "admin")

    assert client.get(reverse("admin:login")).status_code == 200


def test_behind_a_proxy_the_client_address_comes_from_its_header(client, throttle, settings):
    """With DJANGO_CLIENT_IP_HEADER=X-Real-IP, every client of the proxy is counted apart."""
    settings.CLIENT_IP_HEADER = "X-Real-IP"

    def guess_via_proxy(real_ip: str) -> int:
        return client.post(
            reverse("admin:login"),
            {"username": f"user-{real_ip}", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_REAL_IP=real_ip,
        ).status_code

    assert [guess_via_proxy("203.0.113.7") for _ in range(6)][-1] == 429
    assert guess_via_proxy("203.0.113.8") == 200


# --- workbook text -------------------------------------------------------------------------------


def test_calendar_text_round_trips_exactly_through_a_calendar_parser(client):
    r"""A literal backslash-N, backslashes, commas, semicolons: the parsed SUMMARY is the
    workbook's text (icalendar's own escaping turned \N into a line break)."""
    title = r"C:\Neu; part 1, \n and \\ too"
    make_album(artist=make_artist(name="Odd"), title=title, release_date=UPCOMING)

    response = client.get(reverse("catalog:upcoming-ics"))

    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Odd – {title}"


def test_right_to_left_overrides_from_the_workbook_are_isolated(client):
    """An RLO in a title or an artist cannot reorder the text around it: each workbook value
    sits in its own <bdi>."""
    album = make_album(artist=make_artist(name="\u202eevil"), title="\u202eTitle")

    tile = client.get(reverse("catalog:album-list")).content.decode()
    detail = client.get(album.get_absolute_url()).content.decode()

    assert "<bdi>\u202eTitle</bdi>" in tile
    assert "<bdi>\u202eevil</bdi>" in tile
    assert '<h1 class="album-detail__title"><bdi>\u202eTitle</bdi></h1>' in detail
