"""The Spotify client against the loopback stand-in (real HTTP on 127.0.0.1, no internet)."""

from __future__ import annotations

import logging
import math
import socket
import subprocess
import sys
import threading
from datetime import date

import pytest
import requests

from catalog.services import spotify
from catalog.services.download import NETWORK_ERROR
from catalog.services.spotify import (
    CREDENTIALS_INVALID,
    CREDENTIALS_MISSING,
    NOT_FOUND,
    QUOTA_EXCEEDED,
    RATE_LIMIT_TOO_LONG,
    SERVER_ERROR,
    TIMED_OUT,
    TOKEN_REJECTED,
    AlbumLookup,
    RateLimitPause,
    SpotifyClient,
    SpotifyError,
    parse_album,
)
from tests.support.loopback import silent_server
from tests.support.spotify_standin import (
    READY_PREFIX,
    RemoteStandIn,
    SpotifyStandIn,
    generated_album,
)

SECRET = "very-secret-client-secret"


@pytest.fixture
def standin():
    with SpotifyStandIn(client_secret=SECRET) as server:
        yield server


def make_client(standin: SpotifyStandIn, **overrides) -> SpotifyClient:
    options = {
        "client_id": standin.client_id,
        "client_secret": standin.client_secret,
        "api_base_url": standin.base_url,
        "token_url": standin.token_url,
        "concurrency": 4,
        "timeout": 2,
        "backoff": 0.01,
    }
    options.update(overrides)
    return SpotifyClient(**options)


class SessionSpy:
    """Records the requests sessions the client opens and which of them it closed."""

    def __init__(self) -> None:
        self.opened: list[requests.Session] = []
        self.closed: list[requests.Session] = []
        self._new_session = spotify._new_session  # the client's own, before the patch

    def new_session(self) -> requests.Session:
        session = self._new_session()
        close = session.close

        def recording_close() -> None:
            self.closed.append(session)
            close()

        session.close = recording_close
        self.opened.append(session)
        return session

    def all_closed(self) -> bool:
        return {id(session) for session in self.opened} <= {id(s) for s in self.closed}


@pytest.fixture
def opened_sessions(monkeypatch) -> SessionSpy:
    spy = SessionSpy()
    monkeypatch.setattr(spotify, "_new_session", spy.new_session)
    return spy


def album_ids(count: int) -> list[str]:
    return [f"standinAlbum{number:010d}" for number in range(count)]


def lookups_of(items) -> list[AlbumLookup]:
    return [item for item in items if isinstance(item, AlbumLookup)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- batch and single lookups ---------------------------------------------------------------


def test_batch_mode_makes_one_request_per_20_ids(standin):
    """N ids are looked up with ceil(N/20) batch requests and one token request."""
    client = make_client(standin)
    ids = album_ids(45)

    lookups = lookups_of(client.iter_albums(ids))

    assert sorted(lookup.album_id for lookup in lookups) == ids
    assert all(lookup.album is not None and not lookup.error for lookup in lookups)
    stats = standin.stats
    assert stats.batch_requests == math.ceil(45 / 20)
    assert stats.single_requests == 0
    assert stats.token_requests == 1
    assert client.requests_made == 3
    assert client.token_requests == 1
    assert client.mode == "batch"


def test_lookups_parse_spotifys_album_json(standin):
    """An album comes back as SpotifyAlbum with its date precision, images and link."""
    standin.set_album(
        "monthAlbum000000000001",
        name="Sunless Age",
        artists=[{"name": "Vola"}, {"name": "Guest"}],
        release_date="2025-03",
        release_date_precision="month",
        total_tracks=9,
    )
    client = make_client(standin)

    (lookup,) = lookups_of(client.iter_albums(["monthAlbum000000000001"]))

    album = lookup.album
    assert album is not None
    assert album.name == "Sunless Age"
    assert album.artist_names == ("Vola", "Guest")
    assert album.release_date == date(2025, 3, 1)
    assert album.release_date_precision == "month"
    assert album.total_tracks == 9
    assert album.image_large_url.endswith("640")
    assert album.image_thumbnail_url.endswith("300")
    assert album.url == "https://open.spotify.com/album/monthAlbum000000000001"


def test_parse_album_reads_day_and_year_precision_and_unknown_dates():
    """`2025-03-14` is a day, `2025` a year (on 1 January); Spotify's `0000` is no date."""
    day = parse_album(
        {**generated_album("a"), "release_date": "2025-03-14", "release_date_precision": "day"}
    )
    year = parse_album(
        {**generated_album("b"), "release_date": "2025", "release_date_precision": "year"}
    )
    unknown = parse_album(
        {**generated_album("c"), "release_date": "0000", "release_date_precision": "year"}
    )

    assert (day.release_date, day.release_date_precision) == (date(2025, 3, 14), "day")
    assert (year.release_date, year.release_date_precision) == (date(2025, 1, 1), "year")
    assert (unknown.release_date, unknown.release_date_precision) == (None, "year")


def test_parse_album_picks_the_smallest_image_of_at_least_64_px_without_a_300_px_one():
    """Without a ~300 px image the thumbnail is the smallest one 64 px wide or more."""
    images = [
        {"url": "big", "width": 640, "height": 640},
        {"url": "tiny", "width": 32, "height": 32},
        {"url": "small", "width": 64, "height": 64},
    ]

    album = parse_album({**generated_album("a"), "images": images})

    assert (album.image_large_url, album.image_thumbnail_url) == ("big", "small")


def test_duplicate_and_empty_ids_are_looked_up_once(standin):
    """Each distinct id gets exactly one lookup; empty ids are skipped."""
    client = make_client(standin)

    lookups = lookups_of(client.iter_albums(["x" * 22, "", "x" * 22, "y" * 22]))

    assert [lookup.album_id for lookup in lookups] == ["x" * 22, "y" * 22]


def test_no_ids_means_no_requests(standin):
    """Nothing to look up: not even a token request."""
    client = make_client(standin)

    assert list(client.iter_albums([])) == []
    assert standin.stats.token_requests == 0


def test_missing_album_in_a_batch_is_not_found(standin):
    """A null in the batch answer is that album's failure; the rest of the batch is fine."""
    ids = album_ids(3)
    standin.mark_missing(ids[1])
    client = make_client(standin)

    lookups = {lookup.album_id: lookup for lookup in lookups_of(client.iter_albums(ids))}

    assert lookups[ids[1]] == AlbumLookup(ids[1], None, NOT_FOUND)
    assert lookups[ids[0]].album is not None
    assert lookups[ids[2]].album is not None
    assert standin.stats.batch_requests == 1


# --- Development Mode: 403 on the batch endpoint -------------------------------------------


def test_batch_403_switches_to_single_lookups_in_parallel():
    """A 403 batch answer switches to GET /albums/{id}: one request per id, concurrency kept."""
    with SpotifyStandIn(mode="dev", latency=0.05) as standin:
        client = make_client(standin, concurrency=3)
        ids = album_ids(30)

        lookups = lookups_of(client.iter_albums(ids))

        stats = standin.stats
    assert sorted(lookup.album_id for lookup in lookups) == ids
    assert all(lookup.album is not None for lookup in lookups)
    assert client.mode == "single"
    assert stats.single_requests == 30
    assert 1 <= stats.batch_requests <= 2  # the two batches may both be in flight
    assert 1 < stats.max_in_flight <= 3


def test_batches_queued_before_the_403_are_not_sent():
    """Only the batches already in flight meet the 403; queued ones go straight to single."""
    with SpotifyStandIn(mode="dev") as standin:
        client = make_client(standin, concurrency=2)

        list(client.iter_albums(album_ids(200)))

        stats = standin.stats
    assert stats.batch_requests <= 2
    assert stats.single_requests == 200


def test_workers_keep_their_connections_alive():
    """Each worker reuses one connection (no new TCP/TLS handshake per request)."""
    with SpotifyStandIn(mode="dev") as standin:
        client = make_client(standin, concurrency=2)

        list(client.iter_albums(album_ids(30)))

        stats = standin.stats
    assert stats.single_requests == 30
    assert stats.connections <= 3  # two workers and the token request


def test_the_failed_batch_is_retried_singly_and_later_batches_are_not_sent(standin):
    """After the first batch 403, the run stays in single mode, including the failed ids."""
    standin.queue_failure("403", endpoint="batch")
    client = make_client(standin, concurrency=1)
    ids = album_ids(45)

    lookups = lookups_of(client.iter_albums(ids))

    assert sorted(lookup.album_id for lookup in lookups) == ids
    assert standin.stats.batch_requests == 1
    assert standin.stats.single_requests == 45


def test_missing_single_album_is_not_found():
    """A 404 from GET /albums/{id} is that album's failure."""
    with SpotifyStandIn(mode="dev") as standin:
        standin.mark_missing("gone" * 5 + "xx")
        client = make_client(standin)

        (lookup,) = lookups_of(client.iter_albums(["gone" * 5 + "xx"]))

    assert lookup == AlbumLookup("gone" * 5 + "xx", None, NOT_FOUND)


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_requests_in_flight_never_exceed_the_concurrency(concurrency):
    """At most `concurrency` requests are in flight, in batch and in single mode."""
    with SpotifyStandIn(mode="dev", latency=0.02) as standin:
        client = make_client(standin, concurrency=concurrency)

        list(client.iter_albums(album_ids(24)))

        assert standin.stats.max_in_flight <= concurrency


# --- rate limits ----------------------------------------------------------------------------


def test_short_retry_after_pauses_every_worker_then_succeeds():
    """429 with a short Retry-After: a RateLimitPause is yielded, no request starts during the
    pause (by the stand-in's own clock), and every album is found afterwards."""
    with SpotifyStandIn(mode="dev", latency=0.03) as standin:
        standin.queue_failure("429", retry_after=0.6)
        client = make_client(standin, concurrency=4)
        ids = album_ids(60)  # ~0.45 s of requests: without a pause some would fall in it

        items = list(client.iter_albums(ids))

        records = [r for r in standin.stats.requests if r.path.startswith("/v1/")]
    assert RateLimitPause(0.6) in items
    assert sorted(lookup.album_id for lookup in lookups_of(items)) == ids
    assert all(lookup.album is not None for lookup in lookups_of(items))
    limited = next(r for r in records if r.status == 429)
    # Requests already on the wire when the 429 arrived may start just after it; none later.
    during_pause = [
        r for r in records if limited.finished + 0.15 < r.started < limited.finished + 0.6
    ]
    assert during_pause == []
    assert any(r.started > limited.finished + 0.6 for r in records)


def test_long_retry_after_stops_enrichment_without_waiting(standin):
    """Retry-After above the limit raises at once with a clear message (no hour-long sleep)."""
    standin.queue_failure("429", retry_after=3600)
    client = make_client(standin, max_retry_after=1, concurrency=1)

    with pytest.raises(SpotifyError) as raised:
        list(client.iter_albums(album_ids(40)))

    assert str(raised.value) == RATE_LIMIT_TOO_LONG.format(seconds="3600", limit="1")
    assert "run the sync again later" in str(raised.value)
    assert standin.stats.api_requests == 1


def test_quota_exceeded_stops_enrichment(standin):
    """A 429 whose reason is QUOTA_EXCEEDED stops at once, whatever the Retry-After."""
    standin.queue_failure("quota", retry_after=1)
    client = make_client(standin, concurrency=1)

    with pytest.raises(SpotifyError, match="^" + QUOTA_EXCEEDED + "$"):
        list(client.iter_albums(album_ids(40)))
    assert standin.stats.api_requests == 1


# --- server errors, timeouts, the network ---------------------------------------------------


def test_server_errors_are_retried_then_succeed(standin):
    """503, 502 then 200: the batch succeeds on the third attempt."""
    standin.queue_failure("503")
    standin.queue_failure("502")
    client = make_client(standin, max_attempts=3)

    lookups = lookups_of(client.iter_albums(album_ids(20)))

    assert all(lookup.album is not None for lookup in lookups)
    assert client.requests_made == 3


def test_persistent_server_errors_fail_only_the_albums_concerned(standin):
    """A batch answering 500 on every attempt fails its albums; the next batch still works."""
    standin.queue_failure("500", times=3)
    client = make_client(standin, max_attempts=3, concurrency=1)
    ids = album_ids(25)

    lookups = {lookup.album_id: lookup for lookup in lookups_of(client.iter_albums(ids))}

    assert {lookups[i].error for i in ids[:20]} == {SERVER_ERROR.format(status=500)}
    assert all(lookups[i].album is not None for i in ids[20:])
    assert client.requests_made == 4


def test_timeouts_are_retried_then_fail_the_album():
    """An album whose lookup times out on every attempt fails with a timeout message."""
    with SpotifyStandIn(mode="dev") as standin:
        standin.queue_failure("timeout", delay=5, times=2)
        client = make_client(standin, timeout=0.3, max_attempts=2, concurrency=1)

        (lookup,) = lookups_of(client.iter_albums(["slow" * 5 + "xx"]))

    assert lookup.error == TIMED_OUT.format(seconds="0.3")
    assert client.requests_made == 2


def test_unreachable_api_is_a_network_error(standin):
    """Connection refused on every attempt stops enrichment with the network message."""
    client = make_client(standin, api_base_url=f"http://127.0.0.1:{free_port()}/v1/")

    with pytest.raises(SpotifyError, match="^" + NETWORK_ERROR + "$"):
        list(client.iter_albums(album_ids(3)))
    assert client.requests_made == 3


def test_unreachable_token_service_is_a_network_error(standin):
    """The token URL refusing connections is a network error too."""
    client = make_client(standin, token_url=f"http://127.0.0.1:{free_port()}/api/token")

    with pytest.raises(SpotifyError, match="^" + NETWORK_ERROR + "$"):
        list(client.iter_albums(album_ids(3)))


# --- credentials and tokens -----------------------------------------------------------------


def test_bad_credentials_fail_fast_with_one_token_request(standin):
    """A rejected client secret raises CREDENTIALS_INVALID after one token request, no retry,
    and a second run on the same client does not ask again."""
    client = make_client(standin, client_secret="wrong-secret")

    with pytest.raises(SpotifyError, match="^" + CREDENTIALS_INVALID + "$"):
        list(client.iter_albums(album_ids(60)))
    with pytest.raises(SpotifyError, match="^" + CREDENTIALS_INVALID + "$"):
        list(client.iter_albums(album_ids(60)))

    assert standin.stats.token_requests == 1
    assert standin.stats.api_requests == 0


def test_missing_credentials_fail_without_a_request(standin):
    """No client id or secret configured: say so, and send nothing."""
    client = make_client(standin, client_secret="")

    with pytest.raises(SpotifyError, match="^" + CREDENTIALS_MISSING + "$"):
        list(client.iter_albums(album_ids(1)))
    assert standin.stats.token_requests == 0


def test_expired_token_is_renewed_once(standin):
    """A 401 on an API call fetches a new token once and repeats the request."""
    client = make_client(standin, concurrency=1)
    list(client.iter_albums(album_ids(5)))
    standin.expire_tokens()

    lookups = lookups_of(client.iter_albums(album_ids(5)))

    assert all(lookup.album is not None for lookup in lookups)
    assert standin.stats.token_requests == 2
    assert standin.stats.batch_requests == 3  # 1, then 401 + retry


def test_a_fresh_token_rejected_again_stops_enrichment(standin):
    """401 right after renewing the token is not retried forever."""
    standin.queue_failure("401", times=2)
    client = make_client(standin, concurrency=1)

    with pytest.raises(SpotifyError, match="^" + TOKEN_REJECTED + "$"):
        list(client.iter_albums(album_ids(5)))
    assert standin.stats.token_requests == 2


def test_secrets_and_tokens_never_appear_in_messages_or_logs(standin, caplog):
    """Neither the client secret nor the access token shows up in errors, reprs or logs."""
    caplog.set_level(logging.DEBUG)
    errors = []
    bad = make_client(standin, client_secret="not-" + SECRET)
    unreachable = make_client(standin, api_base_url=f"http://127.0.0.1:{free_port()}/v1/")
    for client in (bad, unreachable):
        with pytest.raises(SpotifyError) as raised:
            list(client.iter_albums(album_ids(2)))
        errors.append(raised.value)
    tokens = set()
    ok = make_client(standin)
    list(ok.iter_albums(album_ids(2)))
    assert ok._credentials is not None
    tokens.add(ok._credentials.cached_token())

    texts = [str(error) for error in errors] + [repr(c) for c in (bad, unreachable, ok)]
    texts.append(caplog.text)
    for text in texts:
        assert SECRET not in text
        assert all(token not in text for token in tokens)


def test_from_settings_uses_the_spotify_settings(spotify_standin, settings):
    """from_settings() reads the SPOTIFY_* settings, so the app talks to the configured API."""
    settings.SPOTIFY_CONCURRENCY = 2
    client = SpotifyClient.from_settings()

    lookups = lookups_of(client.iter_albums(album_ids(3)))

    assert client.concurrency == 2
    assert all(lookup.album is not None for lookup in lookups)
    assert spotify_standin.stats.batch_requests == 1


# --- cancel -------------------------------------------------------------------------------


def test_should_stop_ends_the_run_between_requests():
    """When should_stop() turns true, no further requests are sent and the iterator ends."""
    with SpotifyStandIn(mode="dev", latency=0.01) as standin:
        client = make_client(standin, concurrency=2)
        received: list[AlbumLookup] = []

        for item in client.iter_albums(album_ids(60), should_stop=lambda: len(received) >= 5):
            if isinstance(item, AlbumLookup):
                received.append(item)

        sent = standin.stats.single_requests
    assert 5 <= len(received) < 10
    assert sent < 10


# --- the stand-in as a separate process -----------------------------------------------------


@pytest.mark.slow
def test_standin_runs_as_a_process_steered_over_http():
    """`python -m tests.support.spotify_standin` announces its URLs and obeys RemoteStandIn."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.spotify_standin", "--port", "0", "--mode", "dev"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        prefix, base_url, token_url, control_url = process.stdout.readline().split()
        remote = RemoteStandIn(control_url)
        remote.mark_missing("gone" * 5 + "xx")
        client = SpotifyClient(
            client_id="standin-client-id",
            client_secret="standin-client-secret",
            api_base_url=base_url,
            token_url=token_url,
            backoff=0.01,
        )

        lookups = lookups_of(client.iter_albums(["gone" * 5 + "xx", "here" * 5 + "xx"]))

        stats = remote.stats
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert prefix == READY_PREFIX
    assert [lookup.error for lookup in lookups if lookup.album is None] == [NOT_FOUND]
    assert stats.single_requests == 2
    assert stats.token_requests == 1


def test_a_stop_during_a_hanging_token_request_ends_the_lookups_promptly(opened_sessions):
    """A token service that accepts connections but never answers does not hold a cancel for
    `max_attempts` timeouts: the iterator ends as soon as `should_stop` says so, and closes
    the sessions it opened (the token request's included)."""
    stop = threading.Event()
    outcome: list[object] = []

    with silent_server() as silent:
        client = SpotifyClient(
            client_id="id",
            client_secret="secret",
            api_base_url=silent.url("/v1/"),
            token_url=silent.url("/api/token"),
            timeout=60,
            max_attempts=3,
        )

        def consume() -> None:
            lookups = client.iter_albums(["4aawyAB9vmqN3uQ7FjRGTy"], should_stop=stop.is_set)
            outcome.extend(lookups)
            outcome.append("ended")

        worker = threading.Thread(target=consume, daemon=True)
        worker.start()
        assert silent.connected.wait(timeout=30)
        assert worker.is_alive()  # still waiting for the token
        stop.set()
        worker.join(10)  # far below the 180 s the three hanging attempts would take
        assert outcome == ["ended"]
        assert opened_sessions.opened  # the token session, at least
        assert opened_sessions.all_closed()
    assert client.requests_made == 0


def test_lookups_that_run_to_the_end_close_every_session(standin, opened_sessions):
    """The workers' sessions and the token session are closed when the lookups end."""
    client = make_client(standin)

    lookups_of(client.iter_albums(album_ids(45)))

    assert len(opened_sessions.opened) >= 2  # the token session and a worker's
    assert opened_sessions.all_closed()
