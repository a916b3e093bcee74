"""The Sync Now endpoints: trigger, status (fragment and JSON), cancel, history."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from catalog.models import SyncOperation
from catalog.services import download, importer, spotify, sync
from catalog.services.importer import ImportResult
from catalog.views import RUNNER_HINT, STAFF_REQUIRED, SYNC_CANCEL_REQUESTED, SYNC_STARTED
from tests.support.sync_factories import add_failures, make_operation
from tests.support.task_backends import dummy_backend, queued_sync_ids

Status = SyncOperation.Status
TRIGGER = "/catalog/sync/trigger/"
STATUS = "/catalog/sync/status/"
CANCEL = "/catalog/sync/cancel/"
HISTORY = "/catalog/sync/history/"
HTMX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}
POLLING = ('hx-trigger="every 2s"', 'hx-get="/catalog/sync/status/"')
STATUS_KEYS = {
    "id",
    "status",
    "stage",
    "message",
    "processed",
    "total",
    "percent",
    "created",
    "updated",
    "unchanged",
    "failed",
    "started_at",
    "finished_at",
    "last_synced_at",
    "error",
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sync_settings(settings):
    """Credentials present, and django-tasks' dummy backend: it keeps the task, imports nothing."""
    settings.SYNC_RUNNER = "dummy"
    settings.SPOTIFY_ENABLED = True
    settings.SPOTIFY_CLIENT_ID = "client-id"
    settings.SPOTIFY_CLIENT_SECRET = "client-secret"
    dummy_backend().clear()
    return settings


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def member_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="member", password="member-password")
    client.force_login(user)
    return client


def panel_html(response) -> str:
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="sync-panel"' in html
    return html


def is_polling(html: str) -> bool:
    return all(attribute in html for attribute in POLLING)


def text_of(html: str, element_id: str) -> str:
    """The text of the element with that id (tags stripped, whitespace folded)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"#{element_id} missing"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(2)).split())


def hx_trigger(response) -> dict:
    return json.loads(response.headers.get("HX-Trigger", "{}"))


# --- trigger --------------------------------------------------------------------------------------


def test_trigger_starts_a_sync_and_answers_202_with_the_polling_panel(staff_client, staff_user):
    """A staff HTMX POST creates one pending web row and answers 202 + syncStarted + the panel."""
    response = staff_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 202
    operation = SyncOperation.objects.get()
    assert operation.status == Status.PENDING
    assert operation.source == SyncOperation.Source.WEB
    assert operation.triggered_by == staff_user
    assert hx_trigger(response)["syncStarted"] == {"id": operation.pk}
    html = panel_html(response)
    assert is_polling(html)
    assert f'"watching": "{operation.pk}"' in html
    assert text_of(html, "sync-button") == "Syncing..."


def test_trigger_hands_the_import_to_the_runner_after_commit(
    staff_client, django_capture_on_commit_callbacks
):
    """The request only queues the run: the job reaches the runner, the row is still pending."""
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 202
    assert queued_sync_ids() == [SyncOperation.objects.get().pk]
    assert SyncOperation.objects.get().status == Status.PENDING


def test_trigger_answers_json_clients_with_the_status_json(staff_client):
    """`Accept: application/json` gets 202 and the status JSON of the new sync."""
    response = staff_client.post(TRIGGER, headers=JSON)

    assert response.status_code == 202
    assert response.json()["status"] == Status.PENDING
    assert response.json()["id"] == SyncOperation.objects.get().pk


def test_trigger_plain_form_post_redirects_back_to_the_album_list(staff_client):
    """Without JavaScript the form POST starts the sync and redirects (303) with a message."""
    response = staff_client.post(TRIGGER)

    assert response.status_code == 303
    assert response["Location"] == "/catalog/albums/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [SYNC_STARTED]
    assert SyncOperation.objects.filter(status=Status.PENDING).count() == 1


def test_plain_form_post_message_is_shown_on_the_album_list(staff_client):
    """After the no-JavaScript redirect, the album list shows the message and the running sync."""
    response = staff_client.post(TRIGGER, follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [("/catalog/albums/", 303)]
    assert f'<li class="sync-flash__item sync-flash__item--success">{SYNC_STARTED}</li>' in html
    assert is_polling(html)


def test_trigger_answers_409_while_a_web_sync_runs(staff_client):
    """A second trigger gets 409 "Sync already in progress", the running panel, no new row."""
    running = make_operation(status=Status.RUNNING, message="Syncing album 15 of 47...")

    response = staff_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 409
    html = panel_html(response)
    assert text_of(html, "sync-message") == sync.SYNC_ALREADY_RUNNING
    assert is_polling(html)
    assert list(SyncOperation.objects.values_list("pk", flat=True)) == [running.pk]


def test_trigger_answers_409_while_a_command_line_sync_runs(staff_client):
    """The button refuses while `import_albums` holds the lock, and says why."""
    make_operation(status=Status.RUNNING, source=SyncOperation.Source.CLI)

    response = staff_client.post(TRIGGER, headers=JSON)

    assert response.status_code == 409
    assert response.json() == {"error": sync.SYNC_ALREADY_RUNNING}


def test_trigger_plain_form_post_while_running_redirects_with_the_reason(staff_client):
    """Without JavaScript a refused trigger redirects to the list with the reason as a message."""
    make_operation(status=Status.RUNNING)

    response = staff_client.post(TRIGGER)

    assert response.status_code == 303
    assert [str(m) for m in get_messages(response.wsgi_request)] == [sync.SYNC_ALREADY_RUNNING]


def test_trigger_answers_503_when_spotify_credentials_are_missing(staff_client, settings):
    """Enrichment on without credentials: 503, the message and what to do as an alert in the
    panel, nothing created."""
    settings.SPOTIFY_CLIENT_SECRET = ""

    response = staff_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 503
    html = panel_html(response)
    assert text_of(html, "sync-message") == (
        "Spotify credentials not configured. Please check environment variables. "
        "Set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET, "
        "or SPOTIFY_ENABLED=0 to import the sheet without Spotify."
    )
    assert 'role="alert"' in html
    assert not is_polling(html)
    assert not SyncOperation.objects.exists()


def test_trigger_503_does_not_read_as_a_finished_sync(staff_client, settings):
    """After a previous sync, the 503 alert stands alone: the previous run's result lines
    (counts, "Finished ... took") are replaced by one line labelled "Previous sync"."""
    settings.SPOTIFY_CLIENT_SECRET = ""
    make_operation(message="Sync complete: 3 new albums.", created_count=3)

    html = panel_html(staff_client.post(TRIGGER, headers=HTMX))

    assert text_of(html, "sync-message").startswith(sync.SPOTIFY_NOT_CONFIGURED)
    assert text_of(html, "sync-previous").startswith("Previous sync: Completed, finished ")
    assert 'id="sync-finished"' not in html
    assert 'id="sync-counts"' not in html
    assert "Sync complete:" not in html
    assert text_of(html, "sync-button") == "Sync Now"


def test_trigger_503_as_json(staff_client, settings):
    """JSON clients get the missing-credentials message as `error`, what to do as `hint`."""
    settings.SPOTIFY_CLIENT_ID = ""

    response = staff_client.post(TRIGGER, headers=JSON)

    assert response.status_code == 503
    assert response.json() == {
        "error": sync.SPOTIFY_NOT_CONFIGURED,
        "hint": sync.SPOTIFY_SETUP_HINT,
    }


@pytest.mark.django_db(transaction=True)  # the job is submitted on commit, as in production
def test_trigger_answers_503_when_the_runner_refuses_the_job(staff_client, settings, caplog):
    """A runner that cannot take the job: 503 with what happened and what to do, the row failed
    (the lock free again), and the traceback in the log; never a bare 500."""
    settings.SYNC_RUNNER = "refusing"

    with caplog.at_level("ERROR", logger="catalog"):
        response = staff_client.post(TRIGGER, headers=HTMX)
        as_json = staff_client.post(TRIGGER, headers=JSON)

    assert response.status_code == 503
    assert text_of(panel_html(response), "sync-message") == (
        f"{sync.SYNC_RUNNER_FAILED}. {RUNNER_HINT}"
    )
    assert as_json.status_code == 503
    assert as_json.json() == {"error": sync.SYNC_RUNNER_FAILED, "hint": RUNNER_HINT}
    assert SyncOperation.objects.filter(status=Status.FAILED).count() == 2
    assert not SyncOperation.objects.filter(status__in=SyncOperation.ACTIVE_STATUSES).exists()
    refusals = [r for r in caplog.records if "runner refused the job" in r.getMessage()]
    assert len(refusals) == 2
    assert all("the queue is unreachable" in str(r.exc_info[1]) for r in refusals)


def test_trigger_503_plain_form_post_redirects_with_the_message_and_hint(staff_client, settings):
    """Without JavaScript the refused trigger's message carries the hint too, and no CLI flag."""
    settings.SPOTIFY_CLIENT_ID = ""

    response = staff_client.post(TRIGGER)

    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == f"{sync.SPOTIFY_NOT_CONFIGURED} {sync.SPOTIFY_SETUP_HINT}"
    assert "--" not in message


def test_trigger_needs_no_credentials_when_spotify_is_switched_off(staff_client, settings):
    """SPOTIFY_ENABLED off: the sheet-only sync starts without credentials."""
    settings.SPOTIFY_ENABLED = False
    settings.SPOTIFY_CLIENT_ID = settings.SPOTIFY_CLIENT_SECRET = ""

    assert staff_client.post(TRIGGER, headers=HTMX).status_code == 202


def test_trigger_marks_a_stale_sync_interrupted_and_starts_a_new_one(staff_client, settings):
    """A row whose heartbeat stopped no longer holds the lock: the trigger frees it and starts."""
    old_beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 5)
    stale = make_operation(status=Status.RUNNING, heartbeat_at=old_beat)

    response = staff_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 202
    stale.refresh_from_db()
    assert stale.status == Status.FAILED
    assert stale.error == sync.SYNC_INTERRUPTED
    assert SyncOperation.objects.filter(status=Status.PENDING).count() == 1


@pytest.mark.parametrize("headers", [HTMX, JSON])
def test_trigger_forbids_anonymous_htmx_and_json_requests(client, headers):
    """Visitors get 403 from HTMX and JSON requests; nothing starts."""
    response = client.post(TRIGGER, headers=headers)

    assert response.status_code == 403
    assert not SyncOperation.objects.exists()


def test_trigger_403_fragment_says_staff_only(member_client):
    """A logged-in non-staff user gets the panel with the reason and no button."""
    response = member_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 403
    html = panel_html(response)
    assert text_of(html, "sync-message") == STAFF_REQUIRED
    assert 'id="sync-button"' not in html


@pytest.mark.parametrize("logged_in", [False, True])
def test_trigger_plain_post_by_non_staff_redirects_to_login(client, django_user_model, logged_in):
    """Visitors and non-staff users posting the form are sent to the login page."""
    if logged_in:
        client.force_login(django_user_model.objects.create_user("member", password="pw-12345"))

    response = client.post(TRIGGER)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/catalog/albums/"
    assert not SyncOperation.objects.exists()


def test_trigger_refuses_get():
    """The trigger is POST only."""
    assert Client().get(TRIGGER).status_code == 405


def test_trigger_requires_a_csrf_token(staff_user):
    """With CSRF checks on, a POST without the token is refused and starts nothing."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)

    response = csrf_client.post(TRIGGER, headers=HTMX)

    assert response.status_code == 403
    assert not SyncOperation.objects.exists()


def test_trigger_accepts_the_csrf_header_htmx_sends(staff_user):
    """The token from the page, sent as X-CSRFToken (hx-headers on <body>), is accepted."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)
    page = csrf_client.get(STATUS, headers=HTMX)  # the staff panel carries the form's token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token

    response = csrf_client.post(TRIGGER, headers={**HTMX, "X-CSRFToken": token.group(1)})

    assert response.status_code == 202


# --- status: the panel in each state --------------------------------------------------------------


def test_status_never_synced(client):
    """No sync yet: "Never synced", no progress, no polling."""
    html = panel_html(client.get(STATUS, headers=HTMX))

    assert text_of(html, "last-synced") == "Never synced"
    assert 'id="sync-progress"' not in html
    assert not is_polling(html)


def test_status_never_synced_json(client):
    """The status JSON before any sync: status null and every contract key."""
    data = client.get(STATUS, headers=JSON).json()

    assert set(data) >= STATUS_KEYS
    assert data["id"] is None
    assert data["status"] is None
    assert data["last_synced_at"] is None


def test_status_pending(staff_client):
    """Pending: "Starting sync...", polling, the button disabled with the reason."""
    make_operation(status=Status.PENDING, message=sync.SYNC_STARTING)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == sync.SYNC_STARTING
    assert is_polling(html)
    assert re.search(r'<button id="sync-button"[^>]*disabled', html)
    assert 'aria-describedby="sync-button-reason"' in html
    assert text_of(html, "sync-button-reason") == "Sync Now is unavailable while a sync is running."


@pytest.mark.parametrize(
    ("stage", "message", "processed", "total", "percent"),
    [
        (importer.STAGE_FETCHING, download.DOWNLOADING.format(host="docs.google.com"), 0, 0, 0),
        (importer.STAGE_IMPORTING, "Syncing album 15 of 47...", 15, 47, 32),
        (importer.STAGE_ENRICHING, "Enriching with Spotify metadata... (120 of 300)", 120, 300, 40),
        (importer.STAGE_ENRICHING, "Spotify rate limit reached: resuming in 30 s", 120, 300, 40),
        (importer.STAGE_FINALIZING, importer.FINALIZING_MESSAGE, 47, 47, 100),
    ],
)
def test_status_running_in_each_stage(client, stage, message, processed, total, percent):
    """Running: the stage message, a <progress> with its percentage as text, polling."""
    make_operation(
        status=Status.RUNNING, stage=stage, message=message, processed=processed, total=total
    )

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == message
    assert f'<progress id="sync-progress" max="100" value="{percent}"' in html
    assert f"{percent}%" in text_of(html, "sync-percent")
    assert is_polling(html)


def test_status_running_shows_time_left_once_estimable(client):
    """After a few seconds of a stage: time left = elapsed / processed * remaining."""
    make_operation(
        status=Status.RUNNING,
        stage=importer.STAGE_IMPORTING,
        processed=10,
        total=40,
        stage_started_at=timezone.now() - timedelta(seconds=60),
    )

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-eta") == "About 3 min left"


def test_status_running_shows_no_estimate_before_progress(client):
    """No albums done yet in the stage: no estimate."""
    make_operation(
        status=Status.RUNNING,
        stage=importer.STAGE_IMPORTING,
        processed=0,
        total=40,
        stage_started_at=timezone.now() - timedelta(seconds=60),
    )

    assert 'id="sync-eta"' not in panel_html(client.get(STATUS, headers=HTMX))


def test_status_visitor_sees_progress_but_no_buttons(client):
    """Visitors see a running sync's progress, without the Sync Now or Cancel buttons."""
    make_operation(status=Status.RUNNING, stage=importer.STAGE_IMPORTING, processed=1, total=2)

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert 'id="sync-progress"' in html
    assert 'id="sync-button"' not in html
    assert 'id="sync-cancel"' not in html


def test_status_staff_sees_cancel_while_running(staff_client):
    """Staff get a Cancel button while a sync runs."""
    make_operation(status=Status.RUNNING)

    assert 'id="sync-cancel"' in panel_html(staff_client.get(STATUS, headers=HTMX))


def test_status_completed(staff_client):
    """Completed: the result line, counts, finish time and duration; button back; no polling."""
    make_operation(
        message="Sync complete: 12 new albums, 3 changed.",
        created_count=12,
        updated_count=3,
        unchanged_count=32,
    )

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == "Sync complete: 12 new albums, 3 changed."
    assert text_of(html, "sync-counts") == "12 new · 3 changed · 32 unchanged"
    assert "took 1 min 12 s" in " ".join(html.split())
    assert re.fullmatch(
        r"Finished \w{3} \d{1,2}, \d\d:\d\d UTC · took 1 min 12 s", text_of(html, "sync-finished")
    )
    assert text_of(html, "sync-button") == "Sync Now"
    assert not re.search(r'<button id="sync-button"[^>]*disabled', html)
    assert text_of(html, "last-synced") == "Last synced: 5 minutes ago"
    assert not is_polling(html)


def test_status_counts_say_removed_when_albums_left_the_workbook(client):
    """Albums no longer in the workbook are counted as removed (only when there are some)."""
    make_operation(created_count=1, unchanged_count=5, removed_count=2)

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-counts") == (
        "1 new · 0 changed · 5 unchanged · 2 removed (no longer in the workbook)"
    )


def test_panel_and_history_show_the_same_counts_line(client):
    """A first sync of the whole sheet: the panel's result sentence and the counts line below
    it use the same words (the history page too), with thousands separators:
    "2,555 new · 0 changed · 0 unchanged"."""
    message = sync.completion_message(ImportResult(created=2555))
    operation = make_operation(message=message, created_count=2555, removed_count=0)
    counts = "2,555 new · 0 changed · 0 unchanged"

    panel = panel_html(client.get(STATUS, headers=HTMX))
    history = client.get(HISTORY).content.decode()

    assert text_of(panel, "sync-message") == "Sync complete: 2,555 new albums."
    assert text_of(panel, "sync-counts") == counts
    assert counts in text_of(history, f"sync-{operation.pk}")


def test_status_spotify_stopped_early_reads_completed_with_warnings(client):
    """A run whose Spotify enrichment stopped early is in the warnings state, not success."""
    message = (
        "Sync complete: 2 changed albums. Spotify enrichment stopped early: "
        f"{spotify.QUOTA_EXCEEDED}"
    )
    make_operation(message=message, spotify_stopped=spotify.QUOTA_EXCEEDED, updated_count=2)

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert 'data-sync-state="warnings"' in html
    assert "sync-panel--warnings" in html
    assert text_of(html, "sync-message") == message


def test_status_points_staff_to_the_workbook_notes_and_shows_visitors_none(staff_client):
    """Staff read "1,204 notes from the workbook", a link to the run in the history; notes alone
    leave the run a plain success. Visitors see neither the notes nor their count, on the
    panel or on the album list."""
    notes = [f"2025 Prog-metal, row {n}: fill colour FF93C47D" for n in range(7, 11)]
    operation = make_operation(warnings=notes, warnings_count=1204)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))
    visitor = Client()
    visitor_panel = panel_html(visitor.get(STATUS, headers=HTMX))
    visitor_page = visitor.get("/catalog/albums/").content.decode()

    assert 'data-sync-state="completed"' in html
    assert text_of(html, "sync-notes") == "1,204 notes from the workbook in the sync history"
    assert f'href="/catalog/sync/history/#sync-{operation.pk}"' in html
    assert "fill colour" not in html  # the list itself lives in the history
    for page in (visitor_panel, visitor_page):
        assert 'id="sync-notes"' not in page
        assert "notes from the workbook" not in page
        assert "fill colour" not in page


def test_status_completed_with_warnings_lists_the_failed_albums(client):
    """Warnings: the "45/50" line and an expandable list of failed albums with reasons."""
    message = "Sync completed with warnings: 45/50 albums updated successfully. 5 failed."
    operation = make_operation(message=message, failed_count=5, unchanged_count=45)
    add_failures(operation, 5)

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == message
    assert '<details id="sync-failures"' in html
    assert html.count("not found on Spotify") == 5
    assert "Band 3 - Album 3" in html
    assert not is_polling(html)


@pytest.mark.parametrize(
    "error",
    [
        download.NETWORK_ERROR,
        download.NOT_A_WORKBOOK,
        spotify.CREDENTIALS_INVALID,
        sync.SYNC_UNEXPECTED_ERROR.format(kind="ValueError"),
    ],
)
def test_status_failed_shows_the_error(staff_client, error):
    """Failed (network, workbook, credentials, unexpected): the message; button enabled."""
    make_operation(status=Status.FAILED, error=error, message=error)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == error.replace("'", "&#x27;")
    assert text_of(html, "sync-button") == "Sync Now"
    assert not is_polling(html)


def test_status_cancelled(staff_client):
    """Cancelled: "Sync cancelled after N of M albums", the counts so far, button enabled."""
    message = sync.SYNC_CANCELLED.format(processed="500", total="2,556 albums")
    make_operation(status=Status.CANCELLED, message=message, created_count=500)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == "Sync cancelled after 500 of 2,556 albums"
    assert "500 new" in html
    assert text_of(html, "sync-button") == "Sync Now"
    assert not is_polling(html)


def test_status_cancel_requested_hides_the_cancel_button(staff_client):
    """After Cancel the panel says it is stopping and offers no second Cancel."""
    make_operation(status=Status.RUNNING, cancel_requested=True)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert 'id="sync-cancelling"' in html
    assert 'id="sync-cancel"' not in html
    assert is_polling(html)


def test_status_read_marks_a_stale_sync_interrupted(staff_client, settings):
    """A row with a stopped heartbeat reads as interrupted, and stays so."""
    old_beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    stale = make_operation(status=Status.RUNNING, heartbeat_at=old_beat)

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert text_of(html, "sync-message") == sync.SYNC_INTERRUPTED
    assert text_of(html, "sync-button") == "Sync Now"
    assert not is_polling(html)
    stale.refresh_from_db()
    assert stale.status == Status.FAILED
    assert stale.finished_at == old_beat


def test_status_read_leaves_a_live_sync_alone(client, settings):
    """A heartbeat younger than SYNC_STALE_AFTER_SECONDS keeps the sync running."""
    beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS - 10)
    live = make_operation(status=Status.RUNNING, heartbeat_at=beat)

    assert is_polling(panel_html(client.get(STATUS, headers=HTMX)))
    live.refresh_from_db()
    assert live.status == Status.RUNNING


def test_status_without_htmx_still_answers_the_fragment(client):
    """A plain GET of the status URL gets the same fragment (harmless)."""
    make_operation()

    response = client.get(STATUS)

    assert response.status_code == 200
    panel_html(response)


def test_status_json_shape(client):
    """The status JSON: the contract's keys with ISO 8601 times."""
    operation = make_operation(
        status=Status.RUNNING,
        stage=importer.STAGE_IMPORTING,
        message="Syncing album 15 of 47...",
        processed=15,
        total=47,
    )

    data = client.get(STATUS, headers=JSON).json()

    assert set(data) >= STATUS_KEYS
    assert data["id"] == operation.pk
    assert data["status"] == "running"
    assert data["stage"] == "importing"
    assert (data["processed"], data["total"], data["percent"]) == (15, 47, 32)
    assert data["started_at"] == operation.started_at.isoformat()
    assert data["finished_at"] is None


# --- last synced ----------------------------------------------------------------------------------


def test_last_synced_ignores_failed_syncs(client):
    """A failed sync after a completed one: "Last synced" still names the completed one."""
    completed = make_operation(finished_at=timezone.now() - timedelta(hours=2))
    make_operation(status=Status.FAILED, error=download.NETWORK_ERROR)

    data = client.get(STATUS, headers=JSON).json()

    assert data["status"] == "failed"
    assert data["last_synced_at"] == completed.finished_at.isoformat()  # type: ignore[union-attr]


def test_last_synced_counts_syncs_with_warnings(client):
    """A completed sync with failed albums is a sync."""
    operation = make_operation(failed_count=2)

    data = client.get(STATUS, headers=JSON).json()

    assert data["last_synced_at"] == operation.finished_at.isoformat()  # type: ignore[union-attr]


def test_last_synced_never_when_only_failures(client):
    """Only failed syncs: "Never synced"."""
    make_operation(status=Status.FAILED, error=download.NETWORK_ERROR)

    assert text_of(panel_html(client.get(STATUS, headers=HTMX)), "last-synced") == "Never synced"


def test_last_synced_is_natural_time_with_a_timestamp_for_the_minute_update(client):
    """ "Last synced: 5 minutes ago", with the ISO time sync.js uses to update it every minute."""
    operation = make_operation()

    html = panel_html(client.get(STATUS, headers=HTMX))

    assert "Last synced:" in html
    assert "5\xa0minutes ago" in html
    assert f'data-synced-at="{operation.finished_at:%Y-%m-%dT%H:%M:%S}' in html


# --- polling ends with syncCompleted --------------------------------------------------------------


def test_poll_of_an_ended_sync_triggers_sync_completed(client):
    """The poll that finds the watched sync finished carries HX-Trigger: syncCompleted."""
    operation = make_operation()

    response = client.get(STATUS, {"watching": operation.pk}, headers=HTMX)

    assert hx_trigger(response)["syncCompleted"] == {"id": operation.pk, "status": "completed"}
    assert not is_polling(panel_html(response))


def test_poll_of_a_running_sync_has_no_sync_completed(client):
    """While the watched sync runs: no syncCompleted, the fragment keeps polling."""
    operation = make_operation(status=Status.RUNNING)

    response = client.get(STATUS, {"watching": operation.pk}, headers=HTMX)

    assert "HX-Trigger" not in response.headers
    assert is_polling(panel_html(response))


def test_poll_without_watching_has_no_sync_completed(client):
    """A page load's panel (not a poll) does not announce completion."""
    make_operation()

    assert "HX-Trigger" not in client.get(STATUS, headers=HTMX).headers


def test_poll_of_a_sync_replaced_by_a_newer_one_triggers_sync_completed(client):
    """The watched sync ended and another already started: its end is still announced."""
    ended = make_operation()
    make_operation(status=Status.RUNNING, started_at=timezone.now())

    response = client.get(STATUS, {"watching": ended.pk}, headers=HTMX)

    assert "syncCompleted" in hx_trigger(response)
    assert is_polling(panel_html(response))


def test_poll_that_recovers_a_stale_sync_triggers_sync_completed(client, settings):
    """An interrupted sync is an ended sync: the watcher refreshes and stops polling."""
    old_beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    stale = make_operation(status=Status.RUNNING, heartbeat_at=old_beat)

    response = client.get(STATUS, {"watching": stale.pk}, headers=HTMX)

    assert hx_trigger(response)["syncCompleted"]["status"] == "failed"


# --- status cost ----------------------------------------------------------------------------------


def test_status_poll_is_one_query_for_a_visitor(client, django_assert_num_queries):
    """An anonymous poll during a sync costs one SELECT (latest row + last synced)."""
    make_operation()
    make_operation(status=Status.RUNNING, started_at=timezone.now())

    with django_assert_num_queries(1):
        response = client.get(STATUS, {"watching": 1}, headers=HTMX)
    assert response.status_code == 200


def test_status_poll_for_a_staff_member_adds_only_the_session_and_user(
    client, staff_user, django_assert_num_queries
):
    """A logged-in staff poll: Django's session and user rows, then the panel's one SELECT."""
    client.force_login(staff_user)
    make_operation(status=Status.RUNNING)

    with django_assert_num_queries(3):
        response = client.get(STATUS, {"watching": 1}, headers=HTMX)
    assert 'id="sync-cancel"' in response.content.decode()


def test_status_json_poll_is_one_query(client, django_assert_num_queries):
    """The JSON poll costs the same single SELECT."""
    make_operation(status=Status.RUNNING)

    with django_assert_num_queries(1):
        client.get(STATUS, headers=JSON)


def test_status_poll_recovering_a_stale_sync_is_two_queries(
    client, settings, django_assert_num_queries
):
    """The stale case adds only the recovery UPDATE."""
    old_beat = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    make_operation(status=Status.RUNNING, heartbeat_at=old_beat)

    with django_assert_num_queries(2):
        client.get(STATUS, headers=HTMX)


def test_status_of_a_finished_sync_with_failures_is_two_queries(client, django_assert_num_queries):
    """The failed albums of a finished sync are one more query, however many there are."""
    operation = make_operation(failed_count=30)
    add_failures(operation, 30)

    with django_assert_num_queries(2):
        client.get(STATUS, headers=HTMX)


def test_status_is_not_cached(client):
    """Polls must reach the server: the answer is marked uncacheable."""
    assert "no-cache" in client.get(STATUS, headers=HTMX)["Cache-Control"]


# --- the album list shows the panel ---------------------------------------------------------------


def test_album_list_shows_a_running_sync_at_once(client):
    """A page load during a sync shows its progress, already polling."""
    make_operation(status=Status.RUNNING, message="Syncing album 15 of 47...", processed=15)

    html = client.get("/catalog/albums/").content.decode()

    assert 'id="sync-panel"' in html
    assert text_of(html, "sync-message") == "Syncing album 15 of 47..."
    assert is_polling(html)
    assert "css/sync.css" in html and "js/sync.js" in html


def test_album_list_shows_the_sync_button_to_staff_only(client, staff_client):
    """Staff see Sync Now on the album list; visitors do not."""
    assert 'id="sync-button"' in staff_client.get("/catalog/albums/").content.decode()
    client.logout()
    assert 'id="sync-button"' not in client.get("/catalog/albums/").content.decode()


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_sets_the_flag_and_answers_the_panel(staff_client):
    """Staff cancel: 202, the row's cancel flag set, the panel says it is stopping."""
    running = make_operation(status=Status.RUNNING)

    response = staff_client.post(CANCEL, headers=HTMX)

    assert response.status_code == 202
    running.refresh_from_db()
    assert running.cancel_requested
    html = panel_html(response)
    assert 'id="sync-cancelling"' in html
    assert is_polling(html)


def test_cancel_json(staff_client):
    """JSON clients get 202 and the status JSON with cancel_requested."""
    make_operation(status=Status.PENDING)

    response = staff_client.post(CANCEL, headers=JSON)

    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True


def test_cancel_plain_form_post_redirects_with_a_message(staff_client):
    """Without JavaScript: 303 back to the list with a message."""
    make_operation(status=Status.RUNNING)

    response = staff_client.post(CANCEL)

    assert response.status_code == 303
    assert [str(m) for m in get_messages(response.wsgi_request)] == [SYNC_CANCEL_REQUESTED]


@pytest.mark.parametrize("headers", [HTMX, JSON])
def test_cancel_answers_409_when_nothing_runs(staff_client, headers):
    """Nothing to cancel is a conflict with the current state: 409 "No sync is running"."""
    make_operation()

    response = staff_client.post(CANCEL, headers=headers)

    assert response.status_code == 409
    assert sync.NO_ACTIVE_SYNC in response.content.decode()


@pytest.mark.parametrize("headers", [HTMX, JSON])
def test_cancel_forbidden_for_visitors(client, headers):
    """Visitors cannot cancel: 403, the flag untouched."""
    running = make_operation(status=Status.RUNNING)

    assert client.post(CANCEL, headers=headers).status_code == 403
    running.refresh_from_db()
    assert not running.cancel_requested


def test_cancel_plain_post_by_visitor_redirects_to_login(client):
    """Without JavaScript a visitor's cancel goes to the login page."""
    assert client.post(CANCEL)["Location"] == "/admin/login/?next=/catalog/albums/"


def test_cancel_requires_a_csrf_token(staff_user):
    """With CSRF checks on, a cancel POST without the token is refused."""
    running = make_operation(status=Status.RUNNING)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)

    assert csrf_client.post(CANCEL, headers=HTMX).status_code == 403
    running.refresh_from_db()
    assert not running.cancel_requested


# --- history --------------------------------------------------------------------------------------


def test_history_lists_runs_with_their_failed_albums(client):
    """Visitors see recent runs: status, source, duration, counts and failed albums."""
    completed = make_operation(created_count=7, failed_count=2, message="Sync completed ...")
    add_failures(completed, 2)
    make_operation(status=Status.FAILED, error=download.NETWORK_ERROR, message="x")

    response = client.get(HISTORY)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Completed with warnings" in html
    assert "Failed" in html
    assert "Sync failed. Staff members can see the details." in html
    assert "Band 2 - Album 2" in html and "not found on Spotify" in html
    assert "1 min 12 s" in html
    assert "7 new · 0 changed · 0 unchanged" in text_of(html, f"sync-{completed.pk}")


def test_history_names_the_person_to_staff_only(client, staff_client, staff_user):
    """Who started a run is shown to staff, not to visitors."""
    make_operation(triggered_by=staff_user)

    assert "curator" in staff_client.get(HISTORY).content.decode()
    client.logout()
    assert "curator" not in client.get(HISTORY).content.decode()


def test_history_queries_do_not_grow_with_runs(client, django_assert_num_queries):
    """Runs and their failures are fetched in a constant number of queries."""
    for _ in range(6):
        add_failures(make_operation(failed_count=3), 3)

    with django_assert_num_queries(2):
        client.get(HISTORY)


def test_history_lists_the_first_20_failures_of_a_run_and_counts_the_rest(
    client, django_assert_num_queries
):
    """A run with many failed albums shows the first 20 and "And N more", in the same two
    queries as any other history page."""
    operation = make_operation(failed_count=35)
    add_failures(operation, 35)
    add_failures(make_operation(failed_count=2), 2)

    with django_assert_num_queries(2):
        html = client.get(HISTORY).content.decode()

    assert "<summary>35 failed albums</summary>" in html
    assert "Band 20 - Album 20" in html
    assert "Band 21 - Album 21" not in html
    assert "And 15 more." in html
    assert "<summary>2 failed albums</summary>" in html


def test_history_marks_runs_with_warnings_and_offers_staff_the_workbook_notes(staff_client):
    """A run whose Spotify enrichment stopped reads "Completed with warnings"; notes alone leave
    it "Completed". Staff get a collapsible entry per run with notes, filled when opened (and a
    link without JavaScript); visitors get no trace of the notes."""
    make_operation(spotify_stopped=spotify.QUOTA_EXCEEDED, message="x")
    noted = make_operation(warnings=["2025 Prog-metal, row 9: no artist name"], warnings_count=1)

    html = staff_client.get(HISTORY).content.decode()
    visitor = Client().get(HISTORY).content.decode()

    assert "sync-history__status--warnings" in html
    assert "Completed with warnings" in html
    assert ">Completed<" in html
    notes_url = f"/catalog/sync/history/{noted.pk}/notes/"
    assert "<summary>1 note from the workbook</summary>" in html
    assert f'hx-get="{notes_url}" hx-trigger="toggle once"' in html
    assert f'<a href="{notes_url}">Read the notes</a>' in html
    assert "no artist name" not in html  # loaded when opened
    assert "notes from the workbook" not in visitor and "note from the workbook" not in visitor
    assert notes_url not in visitor


def test_every_workbook_note_of_a_run_is_readable_by_staff_only(staff_client):
    """The notes endpoint lists every note kept (260 here), escaped; as a fragment for the
    history's collapsible entry, as a page without HTMX. Visitors get 403 or the login page."""
    notes = [
        f"2025 Prog-metal, row {n}: length '<b>{n}</b>' is neither LP nor EP" for n in range(260)
    ]
    operation = make_operation(warnings=notes, warnings_count=262)
    url = f"/catalog/sync/history/{operation.pk}/notes/"

    fragment = staff_client.get(url, headers=HTMX)
    page = staff_client.get(url)
    anonymous = Client()

    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert body.count("<li>") == 260
    assert "&lt;b&gt;259&lt;/b&gt;" in body and "<b>" not in body
    assert "And 2 more, not kept." in body
    assert "<html" not in body.lower()
    assert page.status_code == 200
    assert "<h1>Notes from the workbook</h1>" in page.content.decode()
    assert anonymous.get(url, headers=HTMX).status_code == 403
    login = anonymous.get(url)
    assert login.status_code == 302 and "/admin/login/" in login["Location"]
    assert "neither LP" not in anonymous.get(url, headers=HTMX).content.decode()


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", password="boss-password-1")
    client.force_login(admin)
    return client


def test_admin_lists_syncs_with_status_source_and_counts(admin_client_):
    """The sync history in the admin: status, source, duration and counts per run."""
    make_operation(failed_count=2, created_count=1204, removed_count=3)

    html = admin_client_.get("/admin/catalog/syncoperation/").content.decode()

    assert "Completed with warnings" in html
    assert "1 min 12 s" in html
    assert ">1,204<" in html
    for heading in ("New", "Changed", "Unchanged", "Removed"):
        assert re.search(rf">{heading}</a>", html), heading  # sortable, in the panel's words
    assert "Created count" not in html and "Updated count" not in html


def test_admin_sync_detail_is_read_only_with_failed_albums(admin_client_):
    """A run's page shows its failed albums and offers no save, add or delete."""
    operation = make_operation(failed_count=1)
    add_failures(operation, 1)

    response = admin_client_.get(f"/admin/catalog/syncoperation/{operation.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Band 1 - Album 1" in html
    assert 'name="_save"' not in html
    assert admin_client_.get("/admin/catalog/syncoperation/add/").status_code == 403
    assert (
        admin_client_.post(f"/admin/catalog/syncoperation/{operation.pk}/delete/").status_code
        == 403
    )
    assert SyncOperation.objects.filter(pk=operation.pk).exists()


def test_history_start_times_name_their_time_zone(client, settings):
    """A start time says which clock it is on ("... 07:11 UTC"), not a bare hour."""
    make_operation(started_at=datetime(2026, 12, 2, 7, 11, tzinfo=UTC))

    html = client.get(HISTORY).content.decode()

    assert "Dec 2, 2026 07:11 UTC" in html


def test_poll_announces_a_stage_change_once_and_not_a_count_change(client: Client) -> None:
    """A poll whose `announced` key matches the current stage carries no out-of-band
    announcement (counts moved only); a new stage's poll fills #sync-announcer in place."""
    operation = make_operation(
        status=SyncOperation.Status.RUNNING, stage=importer.STAGE_ENRICHING, processed=3, total=9
    )
    first = client.get(STATUS, {"watching": operation.pk}, headers=HTMX).content.decode()
    assert 'id="sync-announcer" hx-swap-oob="innerHTML">Sync: adding Spotify data.</p>' in first
    key = re.search(r'"announced": "([^"]+)"', first)
    assert key

    same = client.get(STATUS, {"watching": operation.pk, "announced": key.group(1)}, headers=HTMX)
    assert "hx-swap-oob" not in same.content.decode()


def test_failed_run_is_announced_through_the_alert_region(client: Client) -> None:
    """A failed run's error goes to the persistent role=alert node, not the status node."""
    make_operation(status=SyncOperation.Status.FAILED, error="Workbook could not be read")

    html = client.get(STATUS, headers=HTMX).content.decode()

    assert (
        '<p id="sync-alert" hx-swap-oob="innerHTML">'
        "Sync failed. Staff members can see the details.</p>"
    ) in html
    assert 'id="sync-announcer"' not in html


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Status.FAILED, "error": "Workbook file not found: x.xlsx"},
        {"status": Status.CANCELLED, "message": "Sync cancelled after 0 of 0 albums"},
    ],
    ids=["failed", "cancelled-before-counting"],
)
def test_a_run_that_never_counted_shows_no_counts(client, fields):
    """A failed download (or a cancel before the import counted anything) shows no
    "0 new · 0 changed · 0 unchanged" on the panel or in the history."""
    operation = make_operation(**fields)

    panel = panel_html(client.get(STATUS, headers=HTMX))
    history = client.get(HISTORY).content.decode()

    assert 'id="sync-counts"' not in panel
    assert "0 new" not in panel
    assert "0 new" not in text_of(history, f"sync-{operation.pk}")


def test_history_names_the_workbook_a_run_read_to_staff_only(staff_client, settings):
    """A web run records the setting's URL without its query; a command run its file name.
    Staff read them in the history; visitors do not."""
    settings.SYNC_RUNNER = "dummy"
    settings.SPOTIFY_ENABLED = False
    settings.GOOGLE_SHEETS_XLSX_URL = (
        "https://docs.google.com/spreadsheets/d/abc/export?format=xlsx"
    )
    assert staff_client.post(TRIGGER, headers=HTMX).status_code == 202
    web = SyncOperation.objects.get()
    assert web.options["workbook"] == "https://docs.google.com/spreadsheets/d/abc/export"
    SyncOperation.objects.filter(pk=web.pk).update(
        status=Status.COMPLETED, finished_at=timezone.now()
    )
    cli = make_operation(source=SyncOperation.Source.CLI, options={"workbook": "export.xlsx"})

    staff_page = staff_client.get(HISTORY).content.decode()
    visitor_page = Client().get(HISTORY).content.decode()

    assert "docs.google.com/spreadsheets/d/abc/export" in text_of(staff_page, f"sync-{web.pk}")
    assert "format=xlsx" not in staff_page
    assert "export.xlsx" in text_of(staff_page, f"sync-{cli.pk}")
    assert "docs.google.com" not in visitor_page
    assert "export.xlsx" not in visitor_page


# --- what visitors and staff read about a failure ---------------------------------------------

PRIVATE_ERROR = (
    "Workbook file not found: /home/deploy/private/progmetal.xlsx: check the path in "
    "GOOGLE_SHEETS_XLSX_URL or the --file option"
)


@pytest.mark.parametrize(
    ("stage", "general"),
    [
        (importer.STAGE_FETCHING, "Sync failed: the workbook could not be read."),
        (importer.STAGE_ENRICHING, "Sync failed while adding Spotify data."),
        ("", "Sync failed."),
    ],
)
def test_visitors_read_failures_in_general_terms_and_staff_in_full(
    client, staff_user, stage, general
):
    """The panel, its live regions, the status JSON and the history give visitors what failed in
    general terms, never the server path or the setting; staff read the whole message."""
    make_operation(status=Status.FAILED, stage=stage, error=PRIVATE_ERROR, message=PRIVATE_ERROR)
    public = f"{general} Staff members can see the details."

    visitor = {
        "panel": client.get(STATUS, headers=HTMX).content.decode(),
        "json": json.dumps(client.get(STATUS, headers=JSON).json()),
        "history": client.get(HISTORY).content.decode(),
        "list": client.get("/catalog/albums/").content.decode(),
    }
    for page, text in visitor.items():
        assert "/home/deploy" not in text, page
        assert "GOOGLE_SHEETS_XLSX_URL" not in text, page
    assert text_of(visitor["panel"], "sync-message") == public
    assert client.get(STATUS, headers=JSON).json()["error"] == public
    assert public in visitor["history"]

    client.force_login(staff_user)
    assert text_of(client.get(STATUS, headers=HTMX).content.decode(), "sync-message") == (
        PRIVATE_ERROR
    )
    assert client.get(STATUS, headers=JSON).json()["error"] == PRIVATE_ERROR
    assert PRIVATE_ERROR in client.get(HISTORY).content.decode()
    assert PRIVATE_ERROR in client.get("/catalog/albums/").content.decode()


def test_an_interrupted_run_reads_the_same_for_everyone(client):
    """ "Interrupted" names no path or setting: visitors read it as staff do."""
    make_operation(
        status=Status.FAILED,
        failure_kind=SyncOperation.FailureKind.INTERRUPTED,
        error=sync.SYNC_INTERRUPTED,
        message=sync.SYNC_INTERRUPTED,
    )

    assert client.get(STATUS, headers=JSON).json()["error"] == sync.SYNC_INTERRUPTED


# --- the idle check: an open page notices a sync started elsewhere ------------------------------

# static/js/sync.js sends the event every so many seconds while the tab is visible.
IDLE_TRIGGER = 'hx-trigger="sync-idle-check" data-idle-check-seconds="30"'


def test_an_idle_panel_checks_every_30_seconds_while_visible_and_an_active_one_does_not(client):
    """The idle panel carries the idle check (the run it shows as `since`); a running sync's
    panel polls every 2 s instead, without it."""
    finished = make_operation()

    idle = panel_html(client.get(STATUS, headers=HTMX))
    assert IDLE_TRIGGER in idle
    assert f'"since": "{finished.pk}"' in idle
    assert not is_polling(idle)

    make_operation(status=Status.RUNNING)
    active = panel_html(client.get(STATUS, headers=HTMX))
    assert is_polling(active)
    assert "since" not in active and "data-idle-check-seconds" not in active


def test_a_never_synced_catalog_checks_too(client):
    """A page opened before the very first sync notices it as well (`since` 0)."""
    html = client.get("/catalog/albums/").content.decode()

    assert IDLE_TRIGGER in html
    assert '"since": "0"' in html


def test_the_idle_check_answers_204_in_one_small_query_while_nothing_changed(
    client, django_assert_num_queries
):
    """Nothing started since the page loaded: 204 (htmx swaps nothing), one single-row query on
    the sync table and none on the albums, for a visitor; the same with no sync ever."""
    with django_assert_num_queries(1) as captured:
        response = client.get(STATUS, {"since": "0"}, headers=HTMX)
    assert response.status_code == 204
    assert response.content == b""

    finished = make_operation()
    with django_assert_num_queries(1) as captured:
        response = client.get(STATUS, {"since": str(finished.pk)}, headers=HTMX)
    assert response.status_code == 204
    assert "catalog_album" not in captured.captured_queries[0]["sql"]
    assert "LIMIT 1" in captured.captured_queries[0]["sql"]


def test_the_idle_check_answers_with_the_panel_of_a_sync_started_elsewhere(client):
    """A command-line sync started after the page loaded: the answer is its polling panel
    (watching it, so its end refreshes the grid), with the start announced."""
    seen = make_operation()
    running = make_operation(status=Status.RUNNING, source=SyncOperation.Source.CLI)

    response = client.get(STATUS, {"since": str(seen.pk), "announced": "x"}, headers=HTMX)

    html = panel_html(response)
    assert response.status_code == 200
    assert is_polling(html)
    assert f'"watching": "{running.pk}"' in html
    assert 'id="sync-announcer" hx-swap-oob="innerHTML"' in html
    assert "HX-Trigger" not in response


def test_a_sync_that_started_and_ended_between_two_checks_refreshes_the_grid(client):
    """Started and finished elsewhere between two idle checks: the new result, and
    syncCompleted so the grid reloads."""
    seen = make_operation()
    newer = make_operation(message="Sync complete: 4 new albums.", created_count=4)

    response = client.get(STATUS, {"since": str(seen.pk)}, headers=HTMX)

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["syncCompleted"]["id"] == newer.pk
    assert f'"since": "{newer.pk}"' in panel_html(response)


# --- confirming a large removal -------------------------------------------------------------------

KEPT_WARNING = importer.removals_kept(2552, percent="10%")
CONFIRM = "sync-confirm-removals"


def kept_run() -> SyncOperation:
    """A completed run that kept 2552 albums visible (a workbook with one tab left, say)."""
    return make_operation(
        message=sync.SYNC_REMOVALS_KEPT.format(warning=KEPT_WARNING),
        unchanged_count=3,
        kept_count=2552,
        warnings=[KEPT_WARNING],
        warnings_count=1,
    )


def test_a_run_that_kept_albums_reads_completed_with_warnings_and_offers_staff_the_confirmation(
    staff_client,
):
    kept_run()

    html = panel_html(staff_client.get(STATUS, headers=HTMX))

    assert 'data-sync-state="warnings"' in html
    assert text_of(html, "sync-message") == (
        "Sync completed with warnings: 2,552 albums are no longer in the workbook; more than 10% "
        "of the catalog, so they stay visible. Run import_albums --allow-removals to confirm."
    )
    assert text_of(html, "sync-counts") == (
        "0 new · 0 changed · 3 unchanged · 2,552 kept visible (no longer in the workbook; "
        "not confirmed)"
    )
    assert text_of(html, f"{CONFIRM}-button") == (
        "Sync and hide the 2,552 albums no longer in the workbook"
    )
    form = re.search(rf'<form id="{CONFIRM}"[^>]*>(.*?)</form>', html, re.S)
    assert (
        form
        and 'method="post"' in form.group(0)
        and 'hx-post="/catalog/sync/trigger/"' in (form.group(0))
    )
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert '<input type="hidden" name="allow_removals" value="1">' in form.group(1)


@pytest.mark.parametrize("who", ["visitor", "member"])
def test_visitors_and_members_see_the_warning_but_no_confirmation(who, client, member_client):
    kept_run()
    viewer = client if who == "visitor" else member_client

    html = panel_html(viewer.get(STATUS, headers=HTMX))

    assert KEPT_WARNING in html
    assert CONFIRM not in html


def test_no_confirmation_after_a_run_that_kept_nothing(staff_client):
    make_operation(message="Sync complete! Updated 2 albums", updated_count=2, removed_count=1)

    assert CONFIRM not in panel_html(staff_client.get(STATUS, headers=HTMX))


def test_the_confirmation_starts_a_sync_that_allows_removals(staff_client):
    """The button's POST: a new sync whose stored options allow removals."""
    kept_run()

    response = staff_client.post(TRIGGER, {"allow_removals": "1"}, headers=HTMX)

    assert response.status_code == 202
    latest = SyncOperation.objects.latest("pk")
    assert latest.status == Status.PENDING
    assert latest.options["allow_removals"] is True


def test_sync_now_never_allows_removals(staff_client):
    staff_client.post(TRIGGER, headers=HTMX)

    assert SyncOperation.objects.get().options["allow_removals"] is False


def test_the_confirmation_is_staff_only(member_client):
    kept_run()

    response = member_client.post(TRIGGER, {"allow_removals": "1"}, headers=HTMX)

    assert response.status_code == 403
    assert SyncOperation.objects.count() == 1


def test_the_confirmation_needs_the_csrf_token(staff_user):
    kept_run()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)

    response = csrf_client.post(TRIGGER, {"allow_removals": "1"}, headers=HTMX)

    assert response.status_code == 403
    assert SyncOperation.objects.count() == 1


def test_history_shows_the_kept_albums(client):
    kept_run()

    html = client.get(HISTORY).content.decode()

    assert "Completed with warnings" in html
    assert KEPT_WARNING in html
    assert "2,552 kept visible" in html
