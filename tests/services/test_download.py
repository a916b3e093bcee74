"""Fetching the workbook: over HTTP from a loopback server or from a path, with messages that say
what to do, and a deadline, a size cap and a cancel that hold against slow servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import date

import pytest

from catalog.services.download import (
    NETWORK_ERROR,
    NOT_A_WORKBOOK,
    WORKBOOK_DAMAGED,
    WORKBOOK_DOWNLOAD_DEADLINE,
    WORKBOOK_FILE_NOT_FOUND,
    WORKBOOK_FORBIDDEN,
    WORKBOOK_NOT_FOUND,
    WORKBOOK_SERVER_ERROR,
    WORKBOOK_TOO_LARGE,
    WorkbookCancelled,
    WorkbookError,
    fetch_workbook,
)
from catalog.services.workbook import load_workbook
from tests.support.clock import cancel_after
from tests.support.workbook_server import Route, WorkbookServer
from tests.support.workbooks import ReleaseSpec, make_workbook, save_workbook

ALBUM_ID = "6eS23i4CUnkQph9azKMWYE"
TAB = "2025 Prog-metal"
CANCEL_BOUND = 3.0  # seconds from a cancel to the end of the fetch


def spec(artist: str, album: str, **fields) -> ReleaseSpec:
    return ReleaseSpec(artist, album, date(2025, 1, 10), **fields)


# --- Over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[WorkbookServer]:
    with WorkbookServer() as loopback:
        yield loopback


@pytest.fixture
def workbook_bytes() -> bytes:
    return make_workbook({TAB: [spec("Mirar", "Ascension", spotify=ALBUM_ID)]})


def fetch_error(source: str) -> str:
    with pytest.raises(WorkbookError) as error:
        load_workbook(source)
    return str(error.value)


def test_workbook_is_downloaded_and_parsed(server, workbook_bytes):
    """An http URL serving the XLSX export gives the parsed rows."""
    server.routes["/export"] = Route(body=workbook_bytes)

    parsed = load_workbook(server.url_for("/export?format=xlsx"))

    assert [(row.artist, row.spotify_album_id) for row in parsed.rows] == [("Mirar", ALBUM_ID)]


def test_default_source_is_the_configured_url(server, workbook_bytes, settings):
    """Without a source, GOOGLE_SHEETS_XLSX_URL is fetched."""
    server.routes["/export"] = Route(body=workbook_bytes)
    settings.GOOGLE_SHEETS_XLSX_URL = server.url_for("/export?format=xlsx")

    assert [row.artist for row in load_workbook().rows] == ["Mirar"]


def test_html_page_is_not_a_workbook(server):
    """Google's sign-in page (a private sheet) answers 200 with HTML: NOT_A_WORKBOOK."""
    server.routes["/export"] = Route(
        body=b"<!doctype html><html><body>Sign in - Google Accounts</body></html>",
        content_type="text/html; charset=utf-8",
    )

    assert fetch_error(server.url_for("/export")) == NOT_A_WORKBOOK


def test_not_found_says_the_url_is_wrong(server):
    """404: the URL is wrong or the sheet is gone."""
    message = fetch_error(server.url_for("/nope"))

    assert message == WORKBOOK_NOT_FOUND.format(url=server.url_for("/nope"), origin="--url")


def test_forbidden_says_to_share_the_sheet(server):
    """403: the sheet is not shared publicly."""
    server.routes["/export"] = Route(status=403, body=b"denied", content_type="text/html")

    message = fetch_error(server.url_for("/export"))

    assert message == WORKBOOK_FORBIDDEN.format(status=403, url=server.url_for("/export"))


def test_server_error_says_try_again_later(server):
    """5xx: Google Sheets is having trouble; try again later."""
    server.routes["/export"] = Route(status=503, body=b"unavailable", content_type="text/html")

    message = fetch_error(server.url_for("/export"))

    assert message == WORKBOOK_SERVER_ERROR.format(status=503, url=server.url_for("/export"))


def test_messages_do_not_show_the_query_string(server):
    """Query strings (which could hold keys) never appear in messages."""
    message = fetch_error(server.url_for("/nope?format=xlsx&key=s3cr3t"))

    assert "s3cr3t" not in message
    assert "?" not in message


def test_server_that_does_not_answer_in_time_times_out(server, settings, workbook_bytes):
    """No response within WORKBOOK_READ_TIMEOUT: a timeout message, not a hang."""
    settings.WORKBOOK_READ_TIMEOUT = 0.2
    server.routes["/slow"] = Route(body=workbook_bytes, delay_before_headers=1.0)

    message = fetch_error(server.url_for("/slow"))

    assert message.startswith("The workbook download timed out (no data for 0.2 s")


def test_body_that_stalls_times_out(server, settings, workbook_bytes):
    """Headers sent, then the body stalls beyond the read timeout: a timeout message too."""
    settings.WORKBOOK_READ_TIMEOUT = 0.2
    server.routes["/stall"] = Route(body=workbook_bytes, delay_before_body=1.0)

    message = fetch_error(server.url_for("/stall"))

    assert message.startswith("The workbook download timed out (no data for 0.2 s")


def test_connection_refused_is_a_network_error():
    """Nothing listening on the port: NETWORK_ERROR."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nobody listens there

    message = fetch_error(f"http://127.0.0.1:{port}/export")

    assert message.startswith(NETWORK_ERROR)


def test_dns_failure_is_a_network_error(monkeypatch):
    """A host name that does not resolve: NETWORK_ERROR, naming the host."""

    def no_such_host(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)

    message = fetch_error("https://docs.example.invalid/export?format=xlsx")

    assert message == f"{NETWORK_ERROR} (cannot resolve docs.example.invalid)"


def test_declared_size_over_the_cap_is_refused(server, settings):
    """A Content-Length above WORKBOOK_MAX_BYTES is refused before downloading."""
    settings.WORKBOOK_MAX_BYTES = 1024
    server.routes["/big"] = Route(body=b"PK" + b"x" * 5000)

    message = fetch_error(server.url_for("/big"))

    assert message == WORKBOOK_TOO_LARGE.format(limit=f"{1024 / 1048576:g} MB")


def test_streamed_size_over_the_cap_is_cut_off(server, settings):
    """Without a Content-Length the download stops once it passes WORKBOOK_MAX_BYTES."""
    settings.WORKBOOK_MAX_BYTES = 1024
    server.routes["/big"] = Route(body=b"PK" + b"x" * 300_000, send_length=False)

    assert fetch_error(server.url_for("/big")).startswith("The workbook is larger than")


def test_truncated_download_is_damaged(server, workbook_bytes):
    """A download that stops before its announced length is damaged or incomplete."""
    half = workbook_bytes[: len(workbook_bytes) // 2]
    server.routes["/cut"] = Route(body=half, declared_length=len(workbook_bytes))

    message = fetch_error(server.url_for("/cut"))

    assert message == WORKBOOK_DAMAGED.format(detail="the download stopped before the end")


def test_truncated_file_served_whole_is_damaged(server, workbook_bytes):
    """A file that arrives complete but is itself cut short is damaged or incomplete."""
    server.routes["/half"] = Route(body=workbook_bytes[: len(workbook_bytes) // 2])

    assert fetch_error(server.url_for("/half")).startswith(
        "The workbook file is damaged or incomplete"
    )


def test_local_path_is_read(tmp_path, workbook_bytes):
    """A file path source is read from disk and parsed."""
    path = tmp_path / "releases.xlsx"
    path.write_bytes(workbook_bytes)

    assert [row.artist for row in load_workbook(str(path)).rows] == ["Mirar"]


def test_saved_workbook_path_is_read(tmp_path):
    """tests.support.workbooks.save_workbook writes a file the loader reads."""
    path = save_workbook(tmp_path / "wb.xlsx", {TAB: [spec("Saved", "Album")]})

    assert [row.artist for row in load_workbook(str(path)).rows] == ["Saved"]


def test_missing_local_file_says_so(tmp_path):
    """A path that does not exist: a clear not-found message."""
    path = tmp_path / "missing.xlsx"

    assert fetch_error(str(path)) == WORKBOOK_FILE_NOT_FOUND.format(path=path, origin="--file")


def test_local_file_over_the_cap_is_refused(tmp_path, settings, workbook_bytes):
    """The size cap applies to local files too."""
    settings.WORKBOOK_MAX_BYTES = 100
    path = tmp_path / "releases.xlsx"
    path.write_bytes(workbook_bytes)

    with pytest.raises(WorkbookError) as error:
        fetch_workbook(str(path))

    assert str(error.value).startswith("The workbook is larger than")


def test_cancel_during_a_trickling_download_ends_it_within_the_bound(server, workbook_bytes):
    """One byte every 0.5 s: the download would take hours; cancel ends it at once."""
    server.routes["/trickle"] = Route(body=workbook_bytes, trickle=0.5)
    should_cancel, asked = cancel_after(1.0)

    with pytest.raises(WorkbookCancelled):
        fetch_workbook(server.url_for("/trickle"), should_cancel=should_cancel)

    assert asked
    assert time.monotonic() - asked[0] < CANCEL_BOUND


def test_cancel_while_the_server_sends_nothing_ends_the_download_within_the_bound(
    server, workbook_bytes, settings
):
    """Headers, then silence (a read blocks for WORKBOOK_READ_TIMEOUT): cancel still ends it."""
    settings.WORKBOOK_READ_TIMEOUT = 30
    server.routes["/silent"] = Route(body=workbook_bytes, delay_before_body=30)
    should_cancel, asked = cancel_after(1.0)

    with pytest.raises(WorkbookCancelled):
        fetch_workbook(server.url_for("/silent"), should_cancel=should_cancel)

    assert asked
    assert time.monotonic() - asked[0] < CANCEL_BOUND


def test_a_trickling_download_ends_at_the_overall_deadline(server, workbook_bytes, settings):
    """Bytes keep coming (the per-read timeout never fires): WORKBOOK_DOWNLOAD_TIMEOUT ends it."""
    settings.WORKBOOK_READ_TIMEOUT = 5
    settings.WORKBOOK_DOWNLOAD_TIMEOUT = 1
    server.routes["/trickle"] = Route(body=workbook_bytes, trickle=0.2)

    started = time.monotonic()
    message = fetch_error(server.url_for("/trickle?key=s3cr3t"))

    assert 1.0 <= time.monotonic() - started < 1.0 + CANCEL_BOUND
    assert message == WORKBOOK_DOWNLOAD_DEADLINE.format(seconds=1, url=server.url_for("/trickle"))
    assert "WORKBOOK_DOWNLOAD_TIMEOUT" in message
