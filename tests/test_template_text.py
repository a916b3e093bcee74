"""No template syntax reaches a person: every page and fragment, in every state, is rendered and
its visible text (html.parser from the standard library, script and style contents ignored) is
searched for `{#`, `#}`, `{%`, `%}`, `{{` and `}}` (a `{# #}` comment that spans lines, for one,
is printed as page text by Django)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from catalog.models import SyncOperation
from catalog.services import importer, sync
from tests.factories import make_album, make_genre, make_vocal_style
from tests.sync_factories import add_failures, make_operation

pytestmark = pytest.mark.django_db

Status = SyncOperation.Status
TEMPLATE_MARKERS = ("{#", "#}", "{%", "%}", "{{", "}}")
ALBUMS = "/catalog/albums/"
STATUS = "/catalog/sync/status/"
HISTORY = "/catalog/sync/history/"
LOGIN = "/admin/login/?next=/catalog/albums/"
HTMX = {"HX-Request": "true"}


class VisibleText(HTMLParser):
    """Collects the text a browser shows: text nodes outside <script>, <style> and <template>."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def assert_no_template_text(client: Client, url: str, **kwargs) -> None:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    text = visible_text(response.content.decode())
    found = [marker for marker in TEMPLATE_MARKERS if marker in text]
    assert not found, f"{url} shows {found}: {text[:2000]}"


def test_visible_text_ignores_script_and_keeps_text() -> None:
    """The extractor sees text nodes (so a stray comment is caught) but not script bodies."""
    html = "<p>{# a comment</p><script>if (a) { b(); }} {{x}}</script><style>a{}</style>"
    assert visible_text(html) == "{# a comment"


def full_catalog() -> None:
    genre = make_genre("Djent")
    make_vocal_style("Harsh")
    for _ in range(3):
        make_album(genres=[genre])


@pytest.mark.parametrize("query", ["", "?q=nothing-matches", "?genre=djent&year=2025&q=Album"])
def test_album_list_shows_no_template_text(client: Client, query: str) -> None:
    """The list page, empty, full and filtered, for a visitor, and its HTMX results fragment."""
    assert_no_template_text(client, ALBUMS + query)
    full_catalog()
    assert_no_template_text(client, ALBUMS + query)
    assert_no_template_text(client, ALBUMS + query, headers=HTMX)


def test_detail_history_and_login_show_no_template_text(client: Client) -> None:
    """The album page, the history (empty and with a failed run) and the login page."""
    album = make_album(genres=[make_genre("Prog")])
    assert_no_template_text(client, f"{ALBUMS}{album.pk}/")
    assert_no_template_text(client, HISTORY)
    add_failures(make_operation(failed_count=2), 2)
    make_operation(status=Status.FAILED, error="Workbook file not found")
    assert_no_template_text(client, HISTORY)
    assert_no_template_text(client, LOGIN)


PANEL_STATES = {
    "pending": {"status": Status.PENDING},
    **{
        f"running-{stage}": {"status": Status.RUNNING, "stage": stage, "processed": 3, "total": 9}
        for stage in (
            importer.STAGE_FETCHING,
            importer.STAGE_IMPORTING,
            importer.STAGE_ENRICHING,
            importer.STAGE_FINALIZING,
        )
    },
    "cancelling": {"status": Status.RUNNING, "cancel_requested": True},
    "completed": {"status": Status.COMPLETED, "created_count": 3, "message": "Sync complete!"},
    "warnings": {"status": Status.COMPLETED, "failed_count": 2, "warnings": ["Row 9: no date"]},
    "failed": {"status": Status.FAILED, "error": "The workbook could not be read"},
    "cancelled": {"status": Status.CANCELLED, "created_count": 1},
    "interrupted": {"status": Status.FAILED, "error": sync.SYNC_INTERRUPTED},
}


def test_never_synced_panel_shows_no_template_text(client: Client, staff_user) -> None:
    """The panel before any sync, for a visitor and for staff, in the page and as a fragment."""
    for user in (None, staff_user):
        if user:
            client.force_login(user)
        assert_no_template_text(client, ALBUMS)
        assert_no_template_text(client, STATUS, headers=HTMX)


@pytest.mark.parametrize("state", PANEL_STATES)
def test_panel_shows_no_template_text(client: Client, staff_user, state: str) -> None:
    """The panel in each state, in the page and as the polled fragment, for visitor and staff."""
    operation = make_operation(**PANEL_STATES[state])
    if operation.failed_count:
        add_failures(operation, operation.failed_count)
    for user in (None, staff_user):
        if user:
            client.force_login(user)
        assert_no_template_text(client, ALBUMS)
        assert_no_template_text(client, STATUS, headers=HTMX, data={"watching": operation.pk})
        assert_no_template_text(client, HISTORY)
