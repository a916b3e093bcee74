"""Reading the workbook: every quirk of the sheet, damaged files, and the bounds on hostile ones."""

from __future__ import annotations

import io
import re
import time
import tracemalloc
import zipfile
from datetime import date
from typing import Any

import pytest

from catalog.services.download import (
    NOT_A_WORKBOOK,
    WORKBOOK_DAMAGED,
    WorkbookCancelled,
    WorkbookError,
)
from catalog.services.release_rows import (
    MAX_TEXT,
    WARN_DATE_YEAR,
    WARN_DUPLICATE_ROW,
    WARN_FILL,
    WARN_LENGTH,
    WARN_LINK_SCHEME,
    WARN_NO_ARTIST,
    WARN_NO_DATE,
    WARN_NON_ALBUM_LINK,
    WARN_NOT_SPOTIFY_LINK,
    WARN_UNDATED,
    RowWarning,
    tab_list_and_year,
)
from catalog.services.workbook import (
    NO_RELEASE_TABS,
    NOT_AN_XLSX,
    WORKBOOK_CELL_TOO_LARGE,
    WORKBOOK_TOO_MANY_ROWS,
    WORKBOOK_TOO_MANY_STRINGS,
    WORKBOOK_UNPACKED_TOO_LARGE,
    ParsedWorkbook,
    parse_workbook,
)
from tests.support.clock import cancel_after
from tests.support.workbooks import (
    OLD_COLUMNS,
    RECENT_COLUMNS,
    TAIL_ROW,
    ReleaseSpec,
    cell_bomb,
    edit_part,
    hyperlinks_bomb,
    make_workbook,
    many_strings_bomb,
    plain_sheet,
    shared_string_bomb,
    tail_bomb,
)

ALBUM_ID = "6eS23i4CUnkQph9azKMWYE"
OTHER_ID = "7kni1yGJOEqirUTdvf1NDv"
TAB = "2025 Prog-metal"
SHEET = "xl/worksheets/sheet1.xml"


def spec(
    artist: str | float | None,
    album: str | float | None = "Album",
    release_date: date | str | None = date(2025, 1, 10),
    **fields: Any,
) -> ReleaseSpec:
    """A release row with a date, so that only the quirk under test can warn."""
    return ReleaseSpec(artist, album, release_date, **fields)


def parse(releases: list[ReleaseSpec], *, tab: str = TAB, **options) -> ParsedWorkbook:
    return parse_workbook(make_workbook({tab: releases}, **options))


def only_row(releases: list[ReleaseSpec], **options):
    parsed = parse(releases, **options)
    assert len(parsed.rows) == 1
    return parsed.rows[0]


def messages(parsed: ParsedWorkbook) -> list[str]:
    return [warning.message for warning in parsed.warnings]


# --- Layout ----------------------------------------------------------------------------------


def test_recent_tab_header_is_found_on_row_6():
    """In 2021 and later tabs the header is row 6, so the first release is row 7."""
    parsed = parse([spec("Mirar", "Ascension"), spec("Theophonos", "Banishment")])

    assert [(row.row_number, row.artist) for row in parsed.rows] == [
        (7, "Mirar"),
        (8, "Theophonos"),
    ]


def test_old_tab_header_is_found_on_row_5():
    """In 2020 and older tabs the header is row 5, so the first release is row 6."""
    row = only_row([spec("Haken", "Vector")], tab="2019 Prog-metal")

    assert row.row_number == 6
    assert (row.artist, row.title) == ("Haken", "Vector")


def test_columns_are_found_by_header_name_not_position():
    """Columns in another order still land in the right fields."""
    shuffled = ("Artist", "Spotify", "Country / State", "Length", "Album", "Genre / Subgenres")
    row = only_row(
        [spec("Artist A", "Album B", country="Norway", spotify=ALBUM_ID, length="EP")],
        columns={TAB: shuffled},
        header_rows={TAB: 6},
    )

    assert (row.artist, row.title, row.country, row.format) == (
        "Artist A",
        "Album B",
        "Norway",
        "EP",
    )
    assert row.spotify_album_id == ALBUM_ID


def test_header_must_start_with_artist_in_column_a():
    """A tab whose column A never says Artist has no release table."""
    shuffled = ("Album", "Artist", "Release Date", "Length")
    data = make_workbook(
        {TAB: [spec("A", "B")], "2024 Prog-metal": [spec("C", "D")]},
        columns={TAB: shuffled},
    )

    assert parse_workbook(data).tabs == ["2024 Prog-metal"]


def test_old_tabs_google_play_column_is_ignored_and_apple_music_left_empty():
    """2020-and-older tabs have Google Play and no Apple Music; the other links still read."""
    row = only_row(
        [
            spec(
                "Old",
                "Record",
                spotify=ALBUM_ID,
                google_play="https://play.google.com/store/music/album?id=x",
                amazon="https://amazon.com/dp/B0",
            )
        ],
        tab="2019 Prog-rock",
    )

    assert OLD_COLUMNS != RECENT_COLUMNS
    assert row.apple_music_url == ""
    assert row.amazon_url == "https://amazon.com/dp/B0"
    assert row.spotify_album_id == ALBUM_ID


BLANK = ReleaseSpec(
    None, None, None, length=None, genres=None, vocal_style=None, country=None
)  # a row of empty (styled) cells, as a deleted row leaves in the export


def test_release_rows_stop_at_the_unannounced_block():
    """Rows from the "Unannounced Projects" row on are not releases."""
    parsed = parse(
        [spec("One", "First"), spec("Two", "Second")],
        unannounced=(spec("Later", "Someday", "TBA"), spec("Sadhaka", None, "TBA")),
    )

    assert [row.artist for row in parsed.rows] == ["One", "Two"]
    assert parsed.warnings == []


def test_the_unannounced_marker_in_column_b_ends_the_table_under_any_header():
    """The marker may stand in column B, which holds no named column here: it still ends the
    table (column B is read even though the header does not name it)."""
    data = plain_sheet(
        [
            ["Artist", "Notes", "Album"],
            ["Mirar", None, "Ascension"],
            [None, "Unannounced Projects"],
            ["Secret Band", None, "Future LP"],
        ]
    )

    assert [row.artist for row in parse_workbook(data).rows] == ["Mirar"]


def test_a_wider_gap_before_the_unannounced_block_adds_nothing():
    """Several blank rows before the Unannounced block: the block still stays out."""
    parsed = parse([spec("One", "First")], gap_rows=5)

    assert [row.artist for row in parsed.rows] == ["One"]
    assert parsed.warnings == []


@pytest.mark.parametrize(
    ("layout", "numbers"),
    [
        ("top", [8, 9, 10]),
        ("middle", [7, 9, 10]),
        ("several in the middle", [7, 11, 12]),
        ("end", [7, 8, 9]),
    ],
)
def test_blank_rows_inside_a_table_are_skipped_not_an_end(layout, numbers):
    """One blank row (or several) anywhere in the table: every release row is still read."""
    releases = [spec("One", "First"), spec("Two", "Second"), spec("Three", "Third")]
    if layout == "top":
        releases.insert(0, BLANK)
    elif layout == "middle":
        releases.insert(1, BLANK)
    elif layout == "several in the middle":
        releases[1:1] = [BLANK, BLANK, BLANK]
    else:
        releases.append(BLANK)

    parsed = parse(releases, unannounced=(spec("Later", "Someday", "TBA"),))

    assert [row.artist for row in parsed.rows] == ["One", "Two", "Three"]
    assert [row.row_number for row in parsed.rows] == numbers
    assert parsed.warnings == []


def test_a_tab_without_an_unannounced_block_runs_to_its_last_row():
    """Older tabs just end: rows after blank gaps are read up to the sheet's last row."""
    releases = [spec("One", "First"), BLANK, BLANK, spec("Two", "Second"), BLANK]
    releases += [spec("Three", "Third")]

    parsed = parse(releases, unannounced=(), gap_rows=3)

    assert [row.artist for row in parsed.rows] == ["One", "Two", "Three"]


def test_lowercase_cell_references_are_read():
    """r="a2" names column A as r="A2" does (openpyxl reads both)."""
    data = edit_part(
        plain_sheet([["Artist", "Album"], ["Mirar", "Ascension"]]),
        SHEET,
        lambda xml: re.sub(
            rb' r="([A-Z]+)(\d+)"', lambda m: b' r="' + m[1].lower() + m[2] + b'"', xml
        ),
    )

    assert [row.title for row in parse_workbook(data).rows] == ["Ascension"]


def test_a_row_numbered_again_is_skipped_before_the_header_too():
    """A row whose number is not above the one before it is skipped, as openpyxl's read-only
    sheets skip it: a second row 1 holding the header makes no table."""
    data = edit_part(
        plain_sheet([["Title"], ["Artist", "Album"], ["Mirar", "Ascension"]]),
        SHEET,
        lambda xml: xml.replace(b'<row r="2">', b'<row r="1">', 1),
    )

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert str(error.value) == NO_RELEASE_TABS


def test_statistics_tab_is_ignored():
    """The Statistics tab has no release table: it adds no rows and is not listed in tabs."""
    data = make_workbook({TAB: [spec("A", "B")]}, statistics=True)

    parsed = parse_workbook(data)

    assert parsed.tabs == [TAB]
    assert len(parsed.rows) == 1


def test_every_release_tab_is_parsed_in_order():
    """All tabs with a release table are read, in workbook order."""
    data = make_workbook(
        {
            "2025 Prog-metal": [spec("A", "1")],
            "2025 Prog-rock": [spec("B", "2")],
            "2020 Reissues & Special Release": [spec("C", "3")],
            "2018": [spec("D", "4")],
        }
    )

    parsed = parse_workbook(data)

    assert parsed.tabs == [
        "2025 Prog-metal",
        "2025 Prog-rock",
        "2020 Reissues & Special Release",
        "2018",
    ]
    assert [(row.tab, row.artist) for row in parsed.rows] == [
        ("2025 Prog-metal", "A"),
        ("2025 Prog-rock", "B"),
        ("2020 Reissues & Special Release", "C"),
        ("2018", "D"),
    ]


def test_workbook_without_any_release_table_is_an_error():
    """A workbook with only a Statistics tab cannot be imported: nothing would be listed."""
    data = make_workbook({}, statistics=True)

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert str(error.value) == NO_RELEASE_TABS


def test_inline_string_workbooks_parse_like_shared_string_ones():
    """Text stored inline (as openpyxl writes) reads the same as Google's shared strings."""
    releases = [spec("Mirar", "Ascension", date(2025, 1, 3), spotify=ALBUM_ID)]

    inline = parse(releases, shared_strings=False)
    shared = parse(releases)

    assert inline.rows == shared.rows


@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("2025 Prog-metal", ("prog-metal", 2025)),
        ("2024 Prog-rock", ("prog-rock", 2024)),
        ("2020 Reissues & Special Release", ("reissues", 2020)),
        ("2019 Reissues & Special Release", ("reissues", 2019)),
        ("2018", ("prog-metal", 2018)),
        ("2017", ("prog-metal", 2017)),
    ],
)
def test_list_and_year_come_from_the_tab_name(tab, expected):
    """The tab name gives the list and the year."""
    assert tab_list_and_year(tab) == expected


def test_rows_carry_their_tabs_list_and_year():
    """Each row carries the list and year of its tab."""
    row = only_row([spec("A", "B", "TBA")], tab="2024 Prog-rock")

    assert (row.release_list, row.year) == ("prog-rock", 2024)


def test_rows_of_a_reissues_tab_are_reissues():
    """Everything in a Reissues & Special Release tab is a reissue, fill or no fill."""
    row = only_row([spec("A", "B", date(2020, 5, 1))], tab="2020 Reissues & Special Release")

    assert row.is_reissue
    assert row.release_list == "reissues"


# --- Links -----------------------------------------------------------------------------------


def test_cell_hyperlink_gives_the_url():
    """A link cell showing "S"/"BC" with a cell hyperlink gives that hyperlink's URL."""
    row = only_row(
        [
            spec(
                "Mirar",
                "Ascension",
                spotify=ALBUM_ID,
                bandcamp="https://mirar.bandcamp.com/album/ascension",
                link_style="hyperlink",
            )
        ]
    )

    assert row.spotify_url == f"https://open.spotify.com/album/{ALBUM_ID}"
    assert row.bandcamp_url == "https://mirar.bandcamp.com/album/ascension"


def test_hyperlink_formula_gives_the_url():
    """A =HYPERLINK("url", "S") formula gives its URL."""
    row = only_row(
        [
            spec(
                "Mirar",
                "Ascension",
                spotify=ALBUM_ID,
                bandcamp="https://mirar.bandcamp.com/album/ascension",
                link_style="formula",
            )
        ]
    )

    assert row.spotify_album_id == ALBUM_ID
    assert row.bandcamp_url == "https://mirar.bandcamp.com/album/ascension"


def test_a_shared_formula_starting_outside_the_table_still_gives_the_link():
    """Cells outside the header's columns are skipped unread, but not formula cells: a shared
    =HYPERLINK formula whose first cell sits in an unnamed column (D) is what the Spotify cell
    (E) next to it repeats."""
    columns = ("Artist", "Album", "Release Date", "Memo", "Spotify")
    data = make_workbook(
        {TAB: [spec("Mirar", "Ascension")]}, columns={TAB: columns}, unannounced=()
    )
    formula = f'HYPERLINK("https://open.spotify.com/album/{ALBUM_ID}","S")'
    cells = (
        f'<c r="D7"><f t="shared" ref="D7:E7" si="0">{formula}</f><v>S</v></c>'
        '<c r="E7"><f t="shared" si="0"/><v>S</v></c>'
    )
    data = edit_part(
        data, SHEET, lambda xml: xml.replace(b'<c r="F7"', cells.encode() + b'<c r="F7"', 1)
    )

    row = parse_workbook(data).rows[0]

    assert row.spotify_album_id == ALBUM_ID


def test_hyperlinks_and_formulas_mix_in_one_tab():
    """Both link styles in the same tab each resolve to their own row's URL."""
    parsed = parse(
        [
            spec("A", "1", spotify=ALBUM_ID, link_style="hyperlink"),
            spec("B", "2", spotify=OTHER_ID, link_style="formula"),
            spec("C", "3"),
        ]
    )

    assert [row.spotify_album_id for row in parsed.rows] == [ALBUM_ID, OTHER_ID, None]


def test_a_plain_url_in_a_link_cell_is_read():
    """A link cell holding the URL as its text is read too."""
    row = only_row([spec("A", "B", spotify=ALBUM_ID, link_style="text")])

    assert row.spotify_album_id == ALBUM_ID


HOSTILE_TARGETS = [
    ("javascript:alert(document.cookie)", "javascript:"),
    ("JavaScript:alert(1)", "javascript:"),
    ("data:text/html;base64,PHNjcmlwdD4=", "data:"),
    ("vbscript:msgbox(1)", "vbscript:"),
    ("mirar.bandcamp.com/album/ascension", "no scheme"),
]


@pytest.mark.parametrize(
    ("link_style", "target", "scheme"),
    [
        (style, target, scheme)
        for style in ("hyperlink", "formula", "text")
        for target, scheme in HOSTILE_TARGETS
        if style != "text" or scheme != "no scheme"  # plain text without a scheme is a label
    ],
)
def test_links_that_are_not_http_are_dropped_with_a_note(link_style, target, scheme):
    """Any other scheme, in a cell hyperlink, a =HYPERLINK formula or as plain text, is not
    stored; the row says why, and the album is still read with its other links."""
    parsed = parse(
        [
            spec(
                "Mirar",
                "Ascension",
                bandcamp=target,
                youtube=target,
                spotify=target,
                amazon="https://amazon.com/dp/B0",
                link_style=link_style,
            )
        ]
    )

    [row] = parsed.rows
    assert (row.bandcamp_url, row.youtube_url, row.spotify_url) == ("", "", "")
    assert row.spotify_album_id is None
    assert row.amazon_url == "https://amazon.com/dp/B0"
    assert sorted(messages(parsed)) == [
        WARN_LINK_SCHEME.format(column=column, scheme=scheme)
        for column in ("Bandcamp", "Spotify", "YouTube")
    ]


def test_a_spotify_uri_in_the_spotify_column_is_stored_as_its_https_link():
    """spotify:album:ID is an album link: its canonical https URL is stored, without a note."""
    parsed = parse([spec("Mirar", "Ascension", spotify=f"spotify:album:{ALBUM_ID}")])

    [row] = parsed.rows
    assert row.spotify_url == f"https://open.spotify.com/album/{ALBUM_ID}"
    assert parsed.warnings == []


@pytest.mark.parametrize("link_style", ["hyperlink", "formula"])
def test_spotify_si_parameter_is_stripped(link_style):
    """`?si=...` share tokens are dropped: the id and a canonical album URL remain."""
    url = f"https://open.spotify.com/album/{ALBUM_ID}?si=eYUNYqGHRGG9DJEI5OomHA"
    row = only_row([spec("A", "B", spotify=url, link_style=link_style)])

    assert row.spotify_album_id == ALBUM_ID
    assert row.spotify_url == f"https://open.spotify.com/album/{ALBUM_ID}"


def test_localised_spotify_album_link_gives_the_id():
    """open.spotify.com/intl-de/album/<id> is still an album link."""
    url = f"https://open.spotify.com/intl-de/album/{ALBUM_ID}"
    row = only_row([spec("A", "B", spotify=url)])

    assert row.spotify_album_id == ALBUM_ID


@pytest.mark.parametrize(("kind", "article"), [("track", "a"), ("artist", "an")])
def test_track_or_artist_link_warns_and_leaves_spotify_empty(kind, article):
    """A track or artist link where an album link belongs: a warning, no id and no URL."""
    url = f"https://open.spotify.com/{kind}/{ALBUM_ID}"
    parsed = parse([spec("A", "B", spotify=f"{url}?si=abc")])

    row = parsed.rows[0]
    assert (row.spotify_album_id, row.spotify_url) == (None, "")
    assert parsed.warnings == [
        RowWarning(TAB, 7, WARN_NON_ALBUM_LINK.format(kind=f"{article} {kind}", url=url))
    ]
    assert str(parsed.warnings[0]).startswith(f"{TAB}, row 7: {article} {kind} link where")


def test_non_spotify_link_in_the_spotify_column_warns():
    """A link that is not Spotify's in the Spotify column is dropped with a warning."""
    url = "https://band.bandcamp.com/album/x"
    parsed = parse([spec("A", "B", spotify=url)])

    assert parsed.rows[0].spotify_album_id is None
    assert messages(parsed) == [WARN_NOT_SPOTIFY_LINK.format(url=url)]


def test_rows_without_links_are_kept():
    """A release without any link is still a release."""
    row = only_row([spec("A", "B")])

    assert (row.spotify_album_id, row.spotify_url, row.bandcamp_url) == (None, "", "")


# --- Length, debut, reissue -------------------------------------------------------------------


def test_debut_fill_marks_a_debut():
    """The Length cell filled FFFFBA4A marks a debut."""
    row = only_row([spec("A", "B", debut=True)])

    assert (row.is_debut, row.is_reissue) == (True, False)


def test_reissue_fill_marks_a_reissue():
    """The Length cell filled FF96DA77 marks a reissue or special release."""
    row = only_row([spec("A", "B", reissue=True)])

    assert (row.is_debut, row.is_reissue) == (False, True)


def test_white_or_no_fill_is_neither():
    """No fill, or the white fill the export also uses, marks nothing and warns about nothing."""
    parsed = parse([spec("A", "1"), spec("B", "2", length_fill="FFFFFFFF")])

    assert [(row.is_debut, row.is_reissue) for row in parsed.rows] == [(False, False)] * 2
    assert parsed.warnings == []


def test_another_fill_colour_warns():
    """A fill that is neither legend colour is reported, so a curator can fix the cell."""
    parsed = parse([spec("A", "B", length_fill="FF93C47D")])

    assert not parsed.rows[0].is_reissue
    assert messages(parsed) == [
        WARN_FILL.format(colour="FF93C47D", debut="FFFFBA4A", reissue="FF96DA77")
    ]


def test_the_legend_fills_above_the_header_are_not_rows():
    """The colour legend in rows 4-5 does not turn into releases."""
    parsed = parse([spec("A", "B")])

    assert [row.artist for row in parsed.rows] == ["A"]


def test_lp_and_ep_are_read():
    """Length LP and EP (any case, any padding) give the format."""
    parsed = parse([spec("A", "1", length="LP"), spec("B", "2", length=" ep ")])

    assert [row.format for row in parsed.rows] == ["LP", "EP"]


def test_other_length_warns_and_leaves_format_empty():
    """A Length other than LP/EP is kept out of the format, with a warning."""
    parsed = parse([spec("A", "B", length="Single")])

    assert parsed.rows[0].format == ""
    assert messages(parsed) == [WARN_LENGTH.format(value="Single")]


# --- Dates -----------------------------------------------------------------------------------


def test_date_cell_gives_a_day():
    """A real date cell gives that day, precision "day"."""
    row = only_row([spec("A", "B", date(2025, 3, 14))])

    assert (row.release_date, row.date_precision, row.year) == (date(2025, 3, 14), "day", 2025)


def test_month_text_gives_the_first_of_the_month():
    """ "March 2025" gives 1 March 2025 with precision "month"."""
    row = only_row([spec("A", "B", "March 2025")])

    assert (row.release_date, row.date_precision) == (date(2025, 3, 1), "month")


def test_year_text_gives_the_first_of_january():
    """ "2025" gives 1 January 2025 with precision "year"."""
    row = only_row([spec("A", "B", "2025")])

    assert (row.release_date, row.date_precision) == (date(2025, 1, 1), "year")


def test_day_text_gives_the_day():
    """A date written as text ("August 22, 2025") gives that day."""
    row = only_row([spec("A", "B", "August 22nd, 2025")])

    assert (row.release_date, row.date_precision) == (date(2025, 8, 22), "day")


def test_tba_warns_and_keeps_the_tabs_year():
    """ "TBA" has no date: a warning, no release date, the tab's year."""
    parsed = parse([spec("A", "B", "TBA")])

    row = parsed.rows[0]
    assert (row.release_date, row.date_precision, row.year) == (None, "year", 2025)
    assert messages(parsed) == [WARN_UNDATED.format(value="TBA")]


def test_unreadable_date_text_warns():
    """Text that is not a date ("Spring-ish") is a warning, not a failure."""
    parsed = parse([spec("A", "B", "Spring-ish")])

    assert parsed.rows[0].release_date is None
    assert messages(parsed) == [WARN_UNDATED.format(value="Spring-ish")]


def test_empty_date_warns_and_keeps_the_tabs_year():
    """An empty Release Date cell: a warning, the tab's year."""
    parsed = parse([spec("A", "B", None)], tab="2023 Prog-rock")

    assert (parsed.rows[0].release_date, parsed.rows[0].year) == (None, 2023)
    assert messages(parsed) == [WARN_NO_DATE]


# --- Text fields -----------------------------------------------------------------------------


def test_genres_are_split_on_commas_trimmed_and_kept_as_written():
    """Genres split on commas, trimmed, empty items and repeats dropped, case and order kept."""
    row = only_row([spec("A", "B", genres=" Post-Punk ,Post, , Avant-Garde metal,Djent,Post")])

    assert row.genres == ("Post-Punk", "Post", "Avant-Garde metal", "Djent")


def test_genres_are_never_merged_by_substring():
    """ "Post-Punk" stays "Post-Punk" next to "Post-metal" and "Post"."""
    parsed = parse(
        [
            spec("A", "1", genres="Post-Punk"),
            spec("B", "2", genres="Post-metal"),
            spec("C", "3", genres="Post"),
        ]
    )

    assert [row.genres for row in parsed.rows] == [("Post-Punk",), ("Post-metal",), ("Post",)]


def test_empty_genres_give_an_empty_tuple():
    """No genre text gives no genres."""
    assert only_row([spec("A", "B", genres=None)]).genres == ()


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Harsh", "Harsh"),
        ("Mixed ", "Mixed"),
        ("clean", "Clean"),
        ("Instrumental", "Instrumental"),
        ("Instru./Clean", "Instrumental/Clean"),
        ("Instru./Mixed", "Instrumental/Mixed"),
        ("Spoken word", "Spoken word"),
        (None, ""),
    ],
)
def test_vocal_style_variants_are_canonicalised(written, canonical):
    """Vocal-style variants map onto one spelling; unknown text is kept, trimmed."""
    assert only_row([spec("A", "B", vocal_style=written)]).vocal_style == canonical


def test_numeric_names_are_read_as_text():
    """An artist or album typed as a number ("1914", "0") is text, without ".0"."""
    row = only_row([spec(1914, 0)])

    assert (row.artist, row.title) == ("1914", "0")


def test_text_fields_are_trimmed():
    """Stray spaces around artist, album and country go."""
    row = only_row([spec(" Cieli ", "Cieli di porpora ", country="Marseille, France ")])

    assert (row.artist, row.title, row.country) == (
        "Cieli",
        "Cieli di porpora",
        "Marseille, France",
    )


def test_row_without_artist_is_skipped_with_a_warning():
    """A row with other cells but no artist cannot be an album: skipped, with a warning."""
    parsed = parse([spec("A", "1"), spec(None, "Orphan"), spec("C", "3")])

    assert [row.artist for row in parsed.rows] == ["A", "C"]
    assert parsed.warnings == [RowWarning(TAB, 8, WARN_NO_ARTIST)]


# --- Duplicates ------------------------------------------------------------------------------


def test_duplicate_row_in_a_tab_warns_and_keeps_both():
    """The same release twice in one tab: both rows kept (the importer merges), one warning."""
    twice = spec("A Man Named Onigumo", "The Marrow Mirror")
    parsed = parse([twice, spec("Other", "Album"), twice])

    assert [row.row_number for row in parsed.rows] == [7, 8, 9]
    assert parsed.warnings == [RowWarning(TAB, 9, WARN_DUPLICATE_ROW.format(row=7))]


def test_same_spotify_album_twice_in_a_tab_warns():
    """Two rows with one Spotify album id are a duplicate even if spelled differently."""
    parsed = parse(
        [
            spec("Mirar", "Ascension", spotify=ALBUM_ID),
            spec("MIRAR.", "Ascension (LP)", spotify=ALBUM_ID),
        ]
    )

    assert messages(parsed) == [WARN_DUPLICATE_ROW.format(row=7)]


def test_same_album_in_two_tabs_is_not_a_warning():
    """An album in a year's Prog-metal and Prog-rock tabs is for the importer to merge."""
    same = spec("A", "B", spotify=ALBUM_ID)
    parsed = parse_workbook(make_workbook({"2025 Prog-metal": [same], "2025 Prog-rock": [same]}))

    assert len(parsed.rows) == 2
    assert parsed.warnings == []


# --- Damaged input ---------------------------------------------------------------------------


def test_html_instead_of_a_workbook_is_recognised():
    """A saved web page (a login page, a private sheet) is not a workbook."""
    with pytest.raises(WorkbookError) as error:
        parse_workbook(b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>")

    assert str(error.value) == NOT_A_WORKBOOK


def test_truncated_workbook_is_reported_as_damaged():
    """A workbook cut short says it is damaged or incomplete."""
    data = make_workbook({TAB: [spec("A", "B")]})

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data[: len(data) // 2])

    assert str(error.value).startswith(WORKBOOK_DAMAGED.split("(")[0])
    assert str(error.value).endswith("download it again or check the URL")


def test_bytes_that_are_not_a_zip_are_not_a_workbook():
    """Arbitrary bytes are neither a workbook nor a web page."""
    with pytest.raises(WorkbookError) as error:
        parse_workbook(b'{"error": "nope"}')

    assert str(error.value) == NOT_AN_XLSX.format(detail="not a zip archive")


def test_a_sheet_whose_relationship_is_missing_is_damaged():
    """The workbook names its sheet by a relationship id its relationships part lacks."""
    data = edit_part(
        make_workbook({TAB: [spec("A", "B")]}),
        "xl/workbook.xml",
        lambda xml: xml.replace(b'r:id="rId1"', b'r:id="rId99"', 1),
    )

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert str(error.value) == WORKBOOK_DAMAGED.format(detail="a part is missing")


def test_a_number_cell_that_holds_text_is_damaged():
    """<v>abc</v> in a number cell is nothing a spreadsheet writes: damaged, not a crash."""
    data = edit_part(
        plain_sheet([["Artist", "Album"], ["Mirar", 1914]]),
        SHEET,
        lambda xml: xml.replace(b"<v>1914</v>", b"<v>abc</v>", 1),
    )

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert str(error.value).startswith(WORKBOOK_DAMAGED.split("(")[0])
    assert "ValueError" in str(error.value)


def test_a_length_cell_with_a_style_the_file_lacks_has_no_fill():
    """A style index past the file's style table reads as no fill; the row is kept."""
    data = edit_part(
        plain_sheet([["Artist", "Album", "Length"], ["Mirar", "Ascension", "LP"]]),
        SHEET,
        lambda xml: re.sub(rb'<c r="C2"', b'<c r="C2" s="999"', xml, count=1),
    )

    row = parse_workbook(data).rows[0]

    assert (row.format, row.is_debut, row.is_reissue) == ("LP", False, False)


def test_a_date_serial_no_calendar_holds_is_not_a_date():
    """A release date of 99999999 (a number, no date format) warns like unreadable text."""
    data = plain_sheet([["Artist", "Album", "Release Date"], ["Mirar", "Ascension", 99999999]])

    parsed = parse_workbook(data)

    assert parsed.rows[0].release_date is None
    assert messages(parsed) == [WARN_UNDATED.format(value="99999999")]


def test_workbook_missing_a_sheet_part_is_damaged():
    """A package whose workbook lists a sheet that is not in the zip is damaged."""
    source = zipfile.ZipFile(io.BytesIO(make_workbook({TAB: [spec("A")]})))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))

    with pytest.raises(WorkbookError) as error:
        parse_workbook(output.getvalue())

    assert str(error.value) == WORKBOOK_DAMAGED.format(
        detail="the part xl/worksheets/sheet1.xml is missing"
    )


@pytest.mark.parametrize(
    "part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml"]
)
def test_a_part_with_broken_xml_is_damaged(part):
    """XML cut short inside any part the parser reads says the workbook is damaged."""
    source = zipfile.ZipFile(io.BytesIO(make_workbook({TAB: [spec("A", "B")]})))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(
                info, content[: len(content) // 2] if info.filename == part else content
            )

    with pytest.raises(WorkbookError) as error:
        parse_workbook(output.getvalue())

    assert str(error.value).startswith(WORKBOOK_DAMAGED.format(detail="broken XML").split(")")[0])


def test_date_outside_the_tabs_year_warns_and_keeps_the_tabs_year():
    """A date in another year (a typo such as 2005 for 2025) is kept, the row stays in its
    tab's year, and a warning points at it."""
    parsed = parse([spec("A", "B", date(2005, 1, 30))])

    row = parsed.rows[0]
    assert (row.release_date, row.year) == (date(2005, 1, 30), 2025)
    assert messages(parsed) == [WARN_DATE_YEAR.format(date=date(2005, 1, 30), year=2025)]


# --- Bounds: hostile files and slow servers --------------------------------------------------

CANCEL_BOUND = 3.0  # seconds from a cancel to the end of the fetch or parse


def test_a_cell_past_the_cell_cap_fails_naming_the_setting(settings):
    """A cell longer than WORKBOOK_MAX_CELL_BYTES: a clear message, no rows."""
    settings.WORKBOOK_MAX_CELL_BYTES = 64 * 1024

    with pytest.raises(WorkbookError) as error:
        parse_workbook(cell_bomb(100_000))

    assert str(error.value) == WORKBOOK_CELL_TOO_LARGE.format(
        limit="64 KB", part="xl/worksheets/sheet1.xml"
    )
    assert "WORKBOOK_MAX_CELL_BYTES" in str(error.value)


def test_a_shared_string_past_the_cell_cap_fails_naming_the_setting(settings):
    settings.WORKBOOK_MAX_CELL_BYTES = 64 * 1024

    with pytest.raises(WorkbookError) as error:
        parse_workbook(shared_string_bomb(100_000))

    assert str(error.value) == WORKBOOK_CELL_TOO_LARGE.format(
        limit="64 KB", part="xl/sharedStrings.xml"
    )


def test_a_shared_strings_table_past_its_cap_fails_naming_the_setting(settings):
    """Millions of one-letter shared strings pass every size cap but would cost openpyxl
    gigabytes: the count is capped too, before openpyxl reads the table."""
    settings.WORKBOOK_MAX_SHARED_STRINGS = 5_000
    bomb = many_strings_bomb(17 * 6_000)

    with pytest.raises(WorkbookError) as error:
        parse_workbook(bomb)

    assert str(error.value) == WORKBOOK_TOO_MANY_STRINGS.format(limit=5_000)
    assert "WORKBOOK_MAX_SHARED_STRINGS" in str(error.value)
    settings.WORKBOOK_MAX_SHARED_STRINGS = 7_000
    assert [row.artist for row in parse_workbook(bomb).rows] == ["Mirar"]


def test_long_cells_under_the_cap_are_read_and_cut_to_the_text_bound(settings):
    """A long cell under the cap is read, its text cut to MAX_TEXT characters (more than any
    column stores): many such cells cost the parse no more than short ones."""
    settings.WORKBOOK_MAX_CELL_BYTES = 64 * 1024

    [cell_row] = parse_workbook(cell_bomb(60_000)).rows
    [shared_row] = parse_workbook(shared_string_bomb(60_000)).rows

    assert cell_row.artist == shared_row.artist == ("Mirar" + "A" * 60_000)[:MAX_TEXT]
    assert MAX_TEXT >= 800  # the longest column of the catalog (Album.identity_key)


def test_rows_past_the_row_cap_fail_naming_the_setting(settings):
    """More rows than WORKBOOK_MAX_ROWS in the release tabs (blank ones count): refused."""
    settings.WORKBOOK_MAX_ROWS = 1000
    data = tail_bomb(2000 * len(TAIL_ROW), unannounced=False)

    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert str(error.value) == WORKBOOK_TOO_MANY_ROWS.format(limit=1000)
    assert "WORKBOOK_MAX_ROWS" in str(error.value)
    settings.WORKBOOK_MAX_ROWS = 5000
    assert len(parse_workbook(data).rows) == 2


def test_a_hyperlink_range_is_expanded_only_up_to_the_rows_that_can_be_read(settings):
    """A hostile ref such as "I7:I999999999" costs no more than the rows the cap allows."""
    settings.WORKBOOK_MAX_ROWS = 100
    data = make_workbook(
        {TAB: [spec("Mirar", "Ascension", bandcamp="https://mirar.bandcamp.com/")]}
    )
    sheet = "xl/worksheets/sheet1.xml"
    source = zipfile.ZipFile(io.BytesIO(data))
    text = source.read(sheet).decode()
    text = re.sub(r'(<hyperlink [^>]*ref=")([A-Z]+)7(")', r"\g<1>\g<2>7:\g<2>999999999\3", text)
    assert ":H999999999" in text
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = text.encode() if info.filename == sheet else source.read(info.filename)
            target.writestr(info.filename, content)

    started = time.monotonic()
    [row] = parse_workbook(output.getvalue()).rows

    assert time.monotonic() - started < 2
    assert row.bandcamp_url == "https://mirar.bandcamp.com/"


def test_a_file_that_unpacks_past_the_cap_fails_at_once_naming_the_setting(settings):
    """The declared sizes are checked before anything is unpacked: a quick, clear failure."""
    settings.WORKBOOK_MAX_UNPACKED_BYTES = 4 * 1024 * 1024
    data = tail_bomb(8 * 1024 * 1024)

    started = time.monotonic()
    with pytest.raises(WorkbookError) as error:
        parse_workbook(data)

    assert time.monotonic() - started < 0.5
    assert str(error.value) == WORKBOOK_UNPACKED_TOO_LARGE.format(limit="4 MB")


def test_a_member_that_lies_about_its_size_never_unpacks_past_it():
    """A part declaring 1000 bytes and holding 2 MB: zipfile stops at the declared size and the
    checksum no longer matches, so the file is damaged; it never costs more than it declared."""
    data = tail_bomb(2 * 1024 * 1024)
    name = b"xl/worksheets/sheet1.xml"
    patched = bytearray(data)
    at = 0
    while (at := data.find(b"PK\x01\x02", at + 1)) != -1:  # central directory entries
        if data[at + 46 : at + 46 + len(name)] == name:
            patched[at + 24 : at + 28] = (1000).to_bytes(4, "little")  # uncompressed size
    assert zipfile.ZipFile(io.BytesIO(bytes(patched))).getinfo(name.decode()).file_size == 1000

    with pytest.raises(WorkbookError) as error:
        parse_workbook(bytes(patched))

    assert str(error.value).startswith("The workbook file is damaged or incomplete")


def test_a_sheet_with_millions_of_hyperlinks_is_read_in_bounded_memory():
    """The rows are read to the end of <sheetData> and no further: openpyxl's sheet parser would
    go on to build the whole <hyperlinks> list (5.7 GB for 300 MB of hyperlinks); they are
    streamed instead, and the real link is still found."""
    data = hyperlinks_bomb(4 * 1024 * 1024)  # 200,000 links; openpyxl's parse() peaks at 112 MB
    tracemalloc.start()
    try:
        parsed = parse_workbook(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [row.spotify_album_id for row in parsed.rows] == [ALBUM_ID]
    assert peak < 16 * 1024 * 1024


def test_blank_rows_after_the_table_are_read_to_the_end_without_rows(settings):
    """A long tail of blank rows (no Unannounced block): skipped, the table's rows kept."""
    parsed = parse_workbook(tail_bomb(200_000, unannounced=False))

    assert [row.title for row in parsed.rows] == ["Ascension", "Second"]


def test_cancel_during_a_slow_parse_ends_it_within_the_bound():
    """A sheet that takes seconds to read (a long tail of blank rows): cancel ends the parse
    within the bound, not at the end of the sheet."""
    data = tail_bomb(40 * 1024 * 1024, unannounced=False)  # ~13 s of rows to read
    should_cancel, asked = cancel_after(1.0)

    with pytest.raises(WorkbookCancelled):
        parse_workbook(data, should_cancel=should_cancel)

    assert asked
    assert time.monotonic() - asked[0] < CANCEL_BOUND
