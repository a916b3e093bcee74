"""The statistics page: server-drawn SVG charts, each with its table, following the filters."""

import datetime
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from catalog import charts
from catalog.models import Album
from tests.support.factories import make_album, make_genre, make_vocal_style

pytestmark = pytest.mark.django_db

# The empty state's words, from templates/catalog/stats.html.
EMPTY_STATS = "No albums to count"

STATS_URL = reverse("catalog:stats")
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def table(html: str, caption: str) -> list[list[str]]:
    """The rows (header cell, then data cells) of the table summarised as `caption`."""
    start = html.index(f"<summary>{caption} as a table</summary>")
    body = html[start : html.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [unescape(strip_tags(cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in rows[1:]
    ]


def test_releases_per_year_and_per_month(client):
    """Years oldest first; the latest year up to this one beside the year before, by month;
    albums known only to their year count per year but in no month; a later year's
    releases (still to come) are counted per year but the months compare 2026 with 2025."""
    for day in (datetime.date(2025, 3, 1), datetime.date(2025, 3, 9), datetime.date(2026, 1, 5)):
        make_album(release_date=day)
    make_album(release_date=datetime.date(2026, 2, 1), release_date_precision="month")
    make_album(release_date=datetime.date(2026, 1, 1), release_date_precision="year")
    make_album(release_date=datetime.date(2027, 5, 1))
    make_album(release_date=datetime.date(2020, 5, 1), in_workbook=False)

    html = client.get(STATS_URL).content.decode()

    assert table(html, "Releases per year") == [
        ["2025", "2", "33.3 %"],
        ["2026", "3", "50.0 %"],
        ["2027", "1", "16.7 %"],
    ]
    months = table(html, "Releases per month")
    assert months[0] == ["Jan", "0", "1"]
    assert months[1] == ["Feb", "0", "1"]
    assert months[2] == ["Mar", "2", "0"]
    assert "Releases per month, 2026 beside 2025" in html


def test_genres_per_year_vocal_styles_countries_and_debuts(client):
    djent, doom, jazz = make_genre("Djent"), make_genre("Doom"), make_genre("Jazz")
    harsh = make_vocal_style("Harsh")
    make_album(genres=[djent, doom], country="Norway", vocal_style=harsh, is_debut=True)
    make_album(genres=[djent], country="Norway", vocal_style=harsh)
    make_album(genres=[jazz], country="UK")
    make_album(genres=[doom], release_date=datetime.date(2024, 4, 4), country="UK")

    html = client.get(STATS_URL).content.decode()

    assert table(html, "Genres in 2025") == [
        ["Djent", "2", "50.0 %"],
        ["Doom", "1", "25.0 %"],
        ["Jazz", "1", "25.0 %"],
    ]
    assert table(html, "Genres in 2024") == [["Doom", "1", "100.0 %"]]
    assert table(html, "Vocal styles") == [["Harsh", "2", "50.0 %"], ["Not given", "2", "50.0 %"]]
    assert table(html, "Countries with the most releases") == [
        ["Norway", "2", "50.0 %"],
        ["UK", "2", "50.0 %"],
    ]
    assert "Share of debuts: 25.0 %" in html
    assert table(html, "Share of debuts: 25.0 %") == [
        ["Debuts", "1", "25.0 %"],
        ["Other albums", "3", "75.0 %"],
    ]


def test_charts_are_svg_with_a_text_alternative(client):
    """Each chart is an SVG image named for screen readers, drawn without a script, with a
    bar per row of its table."""
    for year in (2023, 2024, 2025):
        make_album(release_date=datetime.date(year, 2, 2))

    html = client.get(STATS_URL).content.decode()

    start = html.index('aria-labelledby="years-title"')
    svg = html[start : html.index("</svg>", start)]
    assert svg.count('<rect class="chart__bar"') == 3
    assert '<title id="years-title">Releases per year: a bar chart' in svg
    assert "<script" not in html.split("<main", 1)[1]


def test_filters_follow_the_list(client):
    """`?list=prog-rock` counts that list only; its chip and the list link keep it."""
    make_album(release_list=Album.ReleaseList.PROG_ROCK, country="Sweden")
    make_album(release_list=Album.ReleaseList.PROG_METAL, country="Finland")

    html = client.get(STATS_URL, {"list": "prog-rock"}).content.decode()

    assert table(html, "Countries with the most releases") == [["Sweden", "1", "100.0 %"]]
    assert "1 album in the catalog match these filters" in html
    assert 'href="/catalog/albums/?list=prog-rock"' in html
    assert 'aria-label="Remove filter: Prog-rock"' in html
    assert '<option value="prog-rock" selected>' in html


def test_genre_and_vocal_chips_are_named(client):
    make_album(genres=[make_genre("Post-Metal")], vocal_style=make_vocal_style("Harsh"))

    html = client.get(STATS_URL, {"genre": "post-metal", "vocal": "harsh", "year": "2025"})

    content = html.content.decode()
    assert 'aria-label="Remove filter: Post-Metal"' in content
    assert 'aria-label="Remove filter: Harsh"' in content
    assert "Remove filter: 2025" not in content  # the charts compare years: no year filter


def test_empty_catalog_and_empty_filters(client):
    assert EMPTY_STATS in client.get(STATS_URL).content.decode()
    make_album(format=Album.Format.LP)
    html = client.get(STATS_URL, {"format": "EP"}).content.decode()
    assert EMPTY_STATS in html
    assert "<svg" not in html


def test_workbook_values_are_escaped_in_charts_and_tables(client):
    make_album(country="<script>alert(1)</script>", genres=[make_genre("<b>Djent</b>")])

    html = client.get(STATS_URL).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "<b>Djent</b>" not in html
    assert "&lt;b&gt;Djent&lt;/b&gt;" in html


def test_header_links_the_statistics(client):
    html = client.get(reverse("catalog:album-list")).content.decode()

    assert f'<a href="{STATS_URL}">Statistics</a>' in html


def fill(count: int) -> None:
    genres = [make_genre() for _ in range(4)]
    styles = [make_vocal_style("Harsh"), make_vocal_style("Clean")]
    for n in range(count):
        make_album(
            release_date=datetime.date(2019 + n % 7, 1 + n % 12, 1 + n % 28),
            genres=genres[n % 3 : n % 3 + 2],
            vocal_style=styles[n % 2],
            country=f"Country {n % 5}",
            is_debut=n % 4 == 0,
        )


# The albums counted by year, vocal style, country and debut; by date for the months; genre
# links per year; the shown genres' names; the vocal styles' names.
STATS_QUERIES = 5


@pytest.mark.parametrize("count", [5, 60])
def test_query_count_does_not_grow_with_albums(client, django_assert_num_queries, count):
    fill(count)

    with django_assert_num_queries(STATS_QUERIES):
        response = client.get(STATS_URL)
    assert response.status_code == 200
    with django_assert_num_queries(STATS_QUERIES + 1):  # + the requested genre's lookup
        client.get(STATS_URL, {"genre": "genre-1"})


def test_bar_lengths_follow_the_values():
    """The longest bar fills the bar area; the others are in proportion."""
    chart = charts.bar_chart([("a", 10), ("b", 5), ("c", 0)])

    widths = [bar.width for bar in chart.bars]
    assert widths[0] == charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    assert widths[1] == widths[0] / 2
    assert widths[2] == 0
    assert [bar.share for bar in chart.bars] == [66.7, 33.3, 0.0]


def test_month_columns_rise_from_the_baseline():
    chart = charts.month_chart([(2025, [4] + [0] * 11), (2026, [2] + [1] * 11)])

    first = chart.groups[0].columns
    assert first[0].y + first[0].height == chart.baseline
    assert first[0].height == 2 * first[1].height
    assert [tick.value for tick in chart.ticks] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("with_albums", [False, True], ids=["empty", "full"])
def test_no_template_syntax_shows(client, with_albums):
    """No comment or tag of the page's templates is printed as text (tests/test_visible_text.py)."""
    from tests.test_visible_text import assert_no_template_text

    if with_albums:
        fill(30)
    assert_no_template_text(client.get(STATS_URL, {"list": "prog-metal"}))
