"""No page or fragment shows template syntax as text.

A Django `{# #}` comment ends at the end of its line: one that runs on to the next line is
printed on the page, as is any tag or variable a template mistypes. These tests render every page
and fragment, in every state a person can meet, and read the text a person sees.
"""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from catalog.models import SyncOperation
from catalog.services import importer, sync
from tests.support.factories import make_album, make_genre, make_vocal_style
from tests.support.sync_factories import Status, add_failures, make_operation

pytestmark = pytest.mark.django_db

TEMPLATE_SYNTAX = ("{#", "#}", "{%", "%}", "{{", "}}")


class _VisibleText(HTMLParser):
    """Text nodes and the attributes a person reads or hears, without script and style."""

    SPOKEN_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "value")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden_depth += 1
        self.parts.extend(v for k, v in attrs if k in self.SPOKEN_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def assert_no_template_text(response) -> None:
    assert response.status_code == 200, response.status_code
    text = visible_text(response.content.decode())
    leaked = [token for token in TEMPLATE_SYNTAX if token in text]
    assert not leaked, f"template syntax {leaked} in: {text[:2000]}"


def test_visible_text_finds_a_runaway_comment():
    """The checker itself sees a comment that spills onto the page, and ignores scripts."""
    assert "{#" in visible_text("<p>{# a comment\n that runs on #}</p>")
    assert "{{" not in visible_text("<script>const t = '{{x}}';</script><p>ok</p>")


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def full_catalog():
    djent = make_genre("Djent")
    harsh = make_vocal_style("Harsh")
    albums = [make_album(genres=[djent], vocal_style=harsh) for _ in range(3)]
    return albums


LIST = reverse("catalog:album-list")
STATUS = reverse("catalog:sync-status")
HISTORY = reverse("catalog:sync-history")


@pytest.mark.parametrize("as_staff", [False, True], ids=["visitor", "staff"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_empty_list(client, staff_client, as_staff, htmx):
    """The empty catalog, as a page and as the HTMX fragment."""
    c = staff_client if as_staff else client
    headers = {"HX-Request": "true"} if htmx else {}
    assert_no_template_text(c.get(LIST, headers=headers))


@pytest.mark.parametrize(
    "params",
    [{}, {"genre": "djent"}, {"q": "nothing matches this"}, {"page": "1", "debut": "1"}],
    ids=["full", "filtered", "no-results", "debut"],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_full_and_filtered_list(staff_client, full_catalog, params, htmx):
    """The list with albums, filtered, and filtered down to nothing."""
    headers = {"HX-Request": "true"} if htmx else {}
    assert_no_template_text(staff_client.get(LIST, params, headers=headers))


@pytest.mark.parametrize("as_staff", [False, True], ids=["visitor", "staff"])
def test_detail_page(client, staff_client, full_catalog, as_staff):
    """An album's detail page."""
    c = staff_client if as_staff else client
    url = reverse("catalog:album-detail", args=[full_catalog[0].pk])
    assert_no_template_text(c.get(url))


def test_login_page(client):
    """The login page the header's "Log in" link opens."""
    assert_no_template_text(client.get(reverse("admin:login")))


PANEL_STATES = {
    "pending": {"status": Status.PENDING, "message": sync.SYNC_STARTING},
    "fetching": {"status": Status.RUNNING, "stage": importer.STAGE_FETCHING},
    "importing": {
        "status": Status.RUNNING,
        "stage": importer.STAGE_IMPORTING,
        "processed": 15,
        "total": 47,
        "message": "Syncing album 15 of 47...",
    },
    "enriching": {"status": Status.RUNNING, "stage": importer.STAGE_ENRICHING, "total": 9},
    "finalizing": {"status": Status.RUNNING, "stage": importer.STAGE_FINALIZING},
    "cancelling": {"status": Status.RUNNING, "cancel_requested": True},
    "completed": {"message": "Sync complete: 3 new albums.", "created_count": 3},
    "warnings": {
        "message": "Sync complete with warnings",
        "failed_count": 2,
        "spotify_stopped": "Spotify's quota is used up",
        "warnings": ["2025 Prog-metal, row 7: no artist name"],
        "warnings_count": 1,
    },
    "failed": {"status": Status.FAILED, "error": "Workbook could not be read", "message": "x"},
    "cancelled": {"status": Status.CANCELLED, "message": "Sync cancelled after 5 of 9 albums"},
    "interrupted": {
        "status": Status.FAILED,
        "failure_kind": SyncOperation.FailureKind.INTERRUPTED,
        "error": sync.SYNC_INTERRUPTED,
        "message": sync.SYNC_INTERRUPTED,
    },
}


@pytest.fixture(params=["never", *PANEL_STATES])
def panel_state(request):
    if request.param != "never":
        operation = make_operation(**PANEL_STATES[request.param])
        add_failures(operation, operation.failed_count)
    return request.param


@pytest.mark.parametrize("as_staff", [False, True], ids=["visitor", "staff"])
def test_panel_in_each_state(client, staff_client, panel_state, as_staff):
    """The status fragment, the list page around it, and the history, in every sync state."""
    c = staff_client if as_staff else client
    assert_no_template_text(c.get(STATUS, headers={"HX-Request": "true"}))
    assert_no_template_text(c.get(LIST))
    assert_no_template_text(c.get(HISTORY))


def test_history_with_many_runs(staff_client):
    """The history page with runs of every kind, oldest first in the database."""
    for offset, fields in enumerate(PANEL_STATES.values()):
        if fields.get("status") in (Status.PENDING, Status.RUNNING):
            continue
        make_operation(started_at=timezone.now() - timedelta(hours=offset + 1), **fields)
    assert_no_template_text(staff_client.get(HISTORY))


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_workbook_notes_of_a_run(staff_client, htmx):
    """A run's workbook notes, as a page and as the history's fragment."""
    operation = make_operation(**PANEL_STATES["warnings"])
    url = reverse("catalog:sync-notes", args=[operation.pk])
    headers = {"HX-Request": "true"} if htmx else {}
    assert_no_template_text(staff_client.get(url, headers=headers))
