"""The upcoming releases as an iCalendar feed: parsed back with the `icalendar` library."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from catalog.models import Album
from catalog.views import CALENDAR_NAME
from tests.support.factories import make_album, make_artist, make_genre

pytestmark = pytest.mark.django_db

ICS_URL = reverse("catalog:upcoming-ics")
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def fetch(client, params=None) -> Calendar:
    response = client.get(ICS_URL, params or {})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> list:
    return list(calendar.walk("VEVENT"))


def test_one_all_day_event_per_dated_upcoming_release(client):
    """Only releases after today known to the day; each an all-day event on that day."""
    album = make_album(
        artist=make_artist(name="Haken"), title="Fauna", release_date=datetime.date(2026, 7, 3)
    )
    make_album(release_date=datetime.date(2026, 8, 1), release_date_precision="month")
    make_album(release_date=datetime.date(2027, 1, 1), release_date_precision="year")
    make_album(release_date=TODAY)
    make_album(release_date=days(-1))
    make_album(release_date=days(3), in_workbook=False)

    calendar = fetch(client)

    assert calendar["VERSION"] == "2.0"
    assert calendar["X-WR-CALNAME"] == CALENDAR_NAME
    (event,) = events(calendar)
    assert event["SUMMARY"] == "Haken – Fauna"
    # A DATE value, not a DATE-TIME: calendar apps show it as an all-day event.
    assert event.decoded("DTSTART") == datetime.date(2026, 7, 3)
    assert not isinstance(event.decoded("DTSTART"), datetime.datetime)
    assert event.decoded("DTEND") == datetime.date(2026, 7, 4)
    assert event["URL"] == f"https://progmetal.example{album.get_absolute_url()}"


def test_events_come_soonest_first(client):
    later = make_album(title="Later", release_date=days(30))
    sooner = make_album(title="Sooner", release_date=days(2))

    summaries = [str(event["SUMMARY"]) for event in events(fetch(client))]

    assert summaries == [f"{sooner.artist.name} – Sooner", f"{later.artist.name} – Later"]


def test_uid_is_stable_per_album(client):
    """The same album keeps its UID from one fetch to the next, even after an edit; two
    albums never share one."""
    first = make_album(release_date=days(5))
    make_album(release_date=days(6))
    before = [str(event["UID"]) for event in events(fetch(client))]

    Album.objects.filter(pk=first.pk).update(release_date=days(7), title="Renamed")
    after = {str(event["SUMMARY"]): str(event["UID"]) for event in events(fetch(client))}

    assert len(set(before)) == 2
    assert (
        after[f"{first.artist.name} – Renamed"]
        == before[0]
        == f"album-{first.pk}@progmetal.example"
    )
    assert set(after.values()) == set(before)


def test_description_has_genres_country_format_and_links(client):
    album = make_album(
        release_date=days(4),
        genres=[make_genre("Djent"), make_genre("Post-Metal")],
        country="Norway",
        format=Album.Format.EP,
        spotify_url="https://open.spotify.com/album/abc",
        bandcamp_url="javascript:alert(1)",  # never a link
    )

    (event,) = events(fetch(client))

    description = str(event["DESCRIPTION"])
    assert "Genres: Djent, Post-Metal" in description
    assert "Country: Norway" in description
    assert "Format: EP" in description
    assert "Spotify: https://open.spotify.com/album/abc" in description
    assert f"In the catalog: https://progmetal.example{album.get_absolute_url()}" in description
    assert "javascript" not in description


@pytest.mark.parametrize(
    "params",
    [{"genre": "djent"}, {"list": "prog-rock"}, {"format": "EP"}, {"debut": "1"}, {"q": "obsid"}],
)
def test_filters_make_a_narrower_calendar(client, params):
    """`?genre=djent` is a djent calendar; every filter of the list works the same way."""
    wanted = make_album(
        title="Obsidian",
        release_date=days(3),
        genres=[make_genre("Djent")],
        release_list=Album.ReleaseList.PROG_ROCK,
        format=Album.Format.EP,
        is_debut=True,
    )
    make_album(title="Other", release_date=days(4))

    assert [str(e["SUMMARY"]) for e in events(fetch(client, params))] == [
        f"{wanted.artist.name} – Obsidian"
    ]


def test_an_empty_calendar_is_still_a_calendar(client):
    make_album(release_date=days(-2))

    calendar = fetch(client)

    assert events(calendar) == []
    assert calendar["PRODID"]


def test_today_is_the_sites_time_zone_day(client, settings, monkeypatch):
    """At 02:00 UTC on January 1st it is December 31st in New York."""
    settings.TIME_ZONE = "America/New_York"
    monkeypatch.setattr(
        timezone, "now", lambda: datetime.datetime(2027, 1, 1, 2, 0, tzinfo=datetime.UTC)
    )
    make_album(release_date=datetime.date(2026, 12, 31))
    make_album(title="New year", release_date=datetime.date(2027, 1, 1))

    (event,) = events(fetch(client))
    assert event.decoded("DTSTART") == datetime.date(2027, 1, 1)


@pytest.mark.parametrize("count", [2, 30])
def test_query_count_does_not_grow_with_albums(client, django_assert_num_queries, count):
    """The requested genre, the albums, their genres: whatever their number."""
    genre = make_genre("Djent")
    for n in range(count):
        make_album(release_date=days(1 + n), genres=[genre, make_genre()])

    with django_assert_num_queries(3):
        calendar = fetch(client, {"genre": "djent"})
    assert len(events(calendar)) == count
