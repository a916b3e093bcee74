"""Spotify Web API client (client-credentials flow) returning plain dataclasses.

Built on requests rather than spotipy: spotipy reads its token URL from a class constant, caches
tokens in a file unless handed a cache handler, retries 429s inside urllib3's `Retry` (which
sleeps through whatever `Retry-After` says, hours included) unless retries are switched off, and
reports every failure as one exception type. The batch -> single fallback, the shared rate-limit
pause and per-album failures would all be written around it anyway; with requests the whole
policy sits here, and each worker thread keeps its own keep-alive `Session`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from queue import Empty, SimpleQueue
from typing import Any
from urllib.parse import quote, urljoin

import requests
from requests.adapters import HTTPAdapter

from catalog.services.workbook import NETWORK_ERROR

logger = logging.getLogger(__name__)

CREDENTIALS_INVALID = "Spotify credentials are invalid"
NOT_FOUND = "not found on Spotify"
CREDENTIALS_MISSING = (
    "Spotify credentials are not configured: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
)
RATE_LIMIT_TOO_LONG = (
    "Spotify rate limit: retry after {seconds} s exceeds the {limit} s limit; "
    "enrichment stopped, run the sync again later"
)
QUOTA_EXCEEDED = "Spotify quota exceeded: enrichment stopped, run the sync again later"
RATE_LIMIT_PERSISTS = (
    "Spotify rate limit reached again and again: enrichment stopped, run the sync again later"
)
TOKEN_REJECTED = "Spotify rejected a fresh access token: enrichment stopped"
AUTH_UNAVAILABLE = (
    "Spotify's login service is unavailable: enrichment stopped, run the sync again later"
)
SERVER_ERROR = "Spotify error (HTTP {status})"
TIMED_OUT = "Spotify did not answer within {seconds} s"
ACCESS_DENIED = "Spotify refused access to this album (HTTP 403)"
INVALID_ID = "not a valid Spotify album id"
UNEXPECTED_ANSWER = "unexpected answer from Spotify (HTTP {status})"

BATCH_SIZE = 20  # Spotify's limit for GET /albums?ids=
# A token is renewed this long before Spotify says it expires, so no request carries a stale one.
TOKEN_RENEW_MARGIN = 60.0
# Consecutive short 429s tolerated for one request before enrichment stops.
MAX_RATE_LIMIT_WAITS = 10
# How often the calling thread wakes to check `should_stop` while workers wait or pause.
POLL_INTERVAL = 0.25


class SpotifyError(Exception):
    """Enrichment cannot go on (bad credentials, quota spent, long rate limit, outage)."""


@dataclass(frozen=True, slots=True)
class SpotifyAlbum:
    id: str
    name: str
    artist_names: tuple[str, ...]
    release_date: date | None
    release_date_precision: str  # "day" | "month" | "year"
    total_tracks: int | None
    image_large_url: str
    image_thumbnail_url: str
    url: str


@dataclass(frozen=True, slots=True)
class AlbumLookup:
    """The outcome for one requested album id: `album`, or an `error` for the user."""

    album_id: str
    album: SpotifyAlbum | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class RateLimitPause:
    """Spotify answered 429: every worker waits `seconds` before the next request."""

    seconds: float


@dataclass(frozen=True, slots=True)
class _Task:
    kind: str  # "batch" | "single"
    ids: tuple[str, ...]


class _BatchForbidden(Exception):
    """The batch endpoint answered 403 (a Development Mode app): look these ids up singly."""


class _RetrySingly(Exception):
    """The batch endpoint rejected the request (400, e.g. one malformed id): try each id alone."""


class _Stopped(Exception):
    """The run was stopped (cancel or a fatal error elsewhere) while this worker waited."""


def _never() -> bool:
    return False


class SpotifyClient:
    """Looks albums up with at most `concurrency` requests in flight; one instance per sync."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_base_url: str,
        token_url: str,
        concurrency: int = 4,
        max_retry_after: float = 120,
        timeout: float = 10,
        max_attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_base_url = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self.token_url = token_url
        self.concurrency = max(1, concurrency)
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.requests_made = 0  # API requests sent, retries included
        self.token_requests = 0
        self.mode = "batch"  # becomes "single" for the rest of the run at the first batch 403

        self._lock = threading.Lock()  # counters, the rate-limit pause, the sessions
        self._token_lock = threading.Lock()  # the token (one token request at a time)
        self._token = ""
        self._token_expires_at = 0.0
        self._credentials_invalid = False
        self._token_session: requests.Session | None = None
        self._pause_until = 0.0
        self._pauses: SimpleQueue[RateLimitPause] = SimpleQueue()
        self._stop = threading.Event()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    @classmethod
    def from_settings(cls) -> SpotifyClient:
        from django.conf import settings

        return cls(
            client_id=settings.SPOTIFY_CLIENT_ID,
            client_secret=settings.SPOTIFY_CLIENT_SECRET,
            api_base_url=settings.SPOTIFY_API_BASE_URL,
            token_url=settings.SPOTIFY_TOKEN_URL,
            concurrency=settings.SPOTIFY_CONCURRENCY,
            max_retry_after=settings.SPOTIFY_MAX_RETRY_AFTER,
            timeout=settings.SPOTIFY_TIMEOUT,
        )

    def __repr__(self) -> str:
        return f"<SpotifyClient {self.api_base_url} mode={self.mode}>"

    # --- the run ----------------------------------------------------------------------------

    def iter_albums(
        self, album_ids: Sequence[str], *, should_stop: Callable[[], bool] = _never
    ) -> Iterator[AlbumLookup | RateLimitPause]:
        """Yield one AlbumLookup per distinct id, on the calling thread, as lookups complete.

        RateLimitPause is yielded when Spotify asks every worker to wait. Raises SpotifyError
        when enrichment cannot go on. `should_stop` is called on this thread only, between
        requests; when it returns True the iterator ends without looking up the rest.
        """
        ids = list(dict.fromkeys(album_id for album_id in album_ids if album_id))
        if not ids or should_stop():
            return
        self._stop = threading.Event()
        running: dict[Future[list[AlbumLookup]], _Task] = {}
        # Starts no thread until the first task is submitted.
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="spotify")
        try:
            # Bad credentials fail here, once, before any worker starts.
            if not self._first_token(should_stop):
                return
            pending = deque(self._tasks(ids))
            while pending or running:
                if should_stop():
                    return
                # Twice the workers' number queued: a worker finds its next task at once while
                # this thread hands results to the caller (who writes each one to the database).
                # The executor's `concurrency` threads still bound the requests in flight.
                while pending and len(running) < 2 * self.concurrency:
                    task = pending.popleft()
                    if task.kind == "batch" and self.mode == "single":
                        pending.extendleft(reversed(self._tasks(list(task.ids))))
                        continue
                    running[executor.submit(self._run_task, task)] = task
                done, _ = wait(running, timeout=POLL_INTERVAL, return_when=FIRST_COMPLETED)
                yield from self._take_pauses()
                fatal: BaseException | None = None
                for future in done:
                    task = running.pop(future)
                    try:
                        lookups = future.result()
                    except _BatchForbidden:
                        pending.extendleft(_Task("single", (i,)) for i in reversed(task.ids))
                    except _RetrySingly:
                        pending.extendleft(_Task("single", (i,)) for i in reversed(task.ids))
                    except _Stopped:
                        pass
                    except SpotifyError as error:
                        fatal = fatal or error
                    else:
                        yield from lookups
                if fatal is not None:
                    raise fatal
        finally:
            self._stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            self._close_sessions()

    def _first_token(self, should_stop: Callable[[], bool]) -> bool:
        """Get a token on a helper thread while this one keeps checking `should_stop`: a token
        service that accepts connections but never answers must not hold a cancel for up to
        `max_attempts` timeouts. False when stopped; the helper then gives up at its next wait."""
        done = threading.Event()
        failure: list[BaseException] = []

        def fetch() -> None:
            try:
                self._ensure_token()
            except BaseException as error:  # handed to the calling thread below
                failure.append(error)
            finally:
                done.set()

        threading.Thread(target=fetch, name="spotify-token", daemon=True).start()
        while not done.wait(POLL_INTERVAL):
            if should_stop():
                self._stop.set()
                return False
        if failure:
            if isinstance(failure[0], _Stopped):
                return False
            raise failure[0]
        return True

    def _tasks(self, ids: list[str]) -> list[_Task]:
        if self.mode == "single":
            return [_Task("single", (album_id,)) for album_id in ids]
        return [
            _Task("batch", tuple(ids[start : start + BATCH_SIZE]))
            for start in range(0, len(ids), BATCH_SIZE)
        ]

    def _take_pauses(self) -> Iterator[RateLimitPause]:
        while True:
            try:
                yield self._pauses.get_nowait()
            except Empty:
                return

    # --- one task (on a worker thread) ------------------------------------------------------

    def _run_task(self, task: _Task) -> list[AlbumLookup]:
        try:
            return self._run(task)
        except SpotifyError:
            self._stop.set()  # other workers must not start queued tasks after a fatal error
            raise

    def _run(self, task: _Task) -> list[AlbumLookup]:
        if task.kind == "single":
            return [self._lookup_single(task.ids[0])]
        if self.mode == "single":  # another worker's batch was refused after this one was queued
            raise _BatchForbidden
        answer = self._get("albums", params={"ids": ",".join(task.ids)})
        if isinstance(answer, str):
            return [AlbumLookup(album_id, None, answer) for album_id in task.ids]
        if answer.status_code == 403:
            with self._lock:
                switched, self.mode = self.mode != "single", "single"
            if switched:
                logger.info("Spotify refused a batch lookup (403): looking albums up one by one")
            raise _BatchForbidden
        if answer.status_code == 400:
            raise _RetrySingly
        items = _json(answer).get("albums") if answer.status_code == 200 else None
        if not isinstance(items, list) or len(items) != len(task.ids):
            error = UNEXPECTED_ANSWER.format(status=answer.status_code)
            return [AlbumLookup(album_id, None, error) for album_id in task.ids]
        return [_lookup(album_id, item) for album_id, item in zip(task.ids, items, strict=True)]

    def _lookup_single(self, album_id: str) -> AlbumLookup:
        answer = self._get(f"albums/{quote(album_id, safe='')}")
        if isinstance(answer, str):
            return AlbumLookup(album_id, None, answer)
        status = answer.status_code
        if status == 200:
            return _lookup(album_id, _json(answer) or None, missing=UNEXPECTED_ANSWER)
        errors = {404: NOT_FOUND, 400: INVALID_ID, 403: ACCESS_DENIED}
        return AlbumLookup(
            album_id, None, errors.get(status, UNEXPECTED_ANSWER).format(status=status)
        )

    def _get(self, path: str, params: dict[str, str] | None = None) -> requests.Response | str:
        """GET an API path through pauses, token renewal and retries.

        Returns the response (2xx/4xx other than 401/429) or, when retries are spent on 5xx
        answers and timeouts, the failure message for the albums concerned.
        """
        url = urljoin(self.api_base_url, path)
        attempts = rate_limit_waits = 0
        refreshed = False
        only_network_errors = True
        failure = ""
        while True:
            self._wait_for_pause()
            token = self._current_token()
            with self._lock:
                self.requests_made += 1
            try:
                response = self._session().get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except requests.ConnectionError as error:  # DNS, refused, reset (ConnectTimeout too)
                logger.warning("Spotify request failed: %s", type(error).__name__)
                failure = NETWORK_ERROR
            except requests.Timeout:
                only_network_errors = False
                failure = TIMED_OUT.format(seconds=_seconds(self.timeout))
            else:
                status = response.status_code
                if status == 401 and not refreshed:
                    refreshed = True
                    self._renew_token(stale=token)
                    continue
                if status == 401:
                    raise SpotifyError(TOKEN_REJECTED)
                if status == 429:
                    rate_limit_waits += 1
                    if rate_limit_waits > MAX_RATE_LIMIT_WAITS:
                        raise SpotifyError(RATE_LIMIT_PERSISTS)
                    self._start_pause(response)
                    continue
                if status < 500:
                    return response
                only_network_errors = False
                failure = SERVER_ERROR.format(status=status)
            attempts += 1
            if attempts >= self.max_attempts:
                if only_network_errors:
                    raise SpotifyError(NETWORK_ERROR)
                return failure
            self._sleep(self.backoff * 2 ** (attempts - 1))

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = _new_session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _close_sessions(self) -> None:
        """Close the workers' sessions and the token session. A stop may leave the first token
        request hanging on its helper thread: closing its session drops the idle connections
        now, and the one in flight is closed when that request ends."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            if self._token_session is not None:
                sessions.append(self._token_session)
                self._token_session = None
        for session in sessions:
            session.close()

    # --- rate limits ------------------------------------------------------------------------

    def _start_pause(self, response: requests.Response) -> None:
        """Make every worker wait for `Retry-After`, or stop the run if that is too long."""
        if _error_reason(response) == "QUOTA_EXCEEDED":
            raise SpotifyError(QUOTA_EXCEEDED)
        seconds = _retry_after(response.headers.get("Retry-After"))
        if seconds > self.max_retry_after:
            raise SpotifyError(
                RATE_LIMIT_TOO_LONG.format(
                    seconds=_seconds(seconds), limit=_seconds(self.max_retry_after)
                )
            )
        with self._lock:
            now = time.monotonic()
            resume_at = now + seconds
            # Tell the caller only about a new or a longer pause, not each worker's 429.
            announce = resume_at > max(self._pause_until, now) + 0.5 or self._pause_until <= now
            self._pause_until = max(self._pause_until, resume_at)
        if announce:
            logger.info("Spotify rate limit: pausing %s s", _seconds(seconds))
            self._pauses.put(RateLimitPause(seconds))

    def _wait_for_pause(self) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            with self._lock:
                remaining = self._pause_until - time.monotonic()
            if remaining <= 0:
                return
            self._sleep(remaining)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    # --- the token --------------------------------------------------------------------------

    def _current_token(self) -> str:
        with self._token_lock:
            if not self._token or time.monotonic() >= self._token_expires_at:
                self._fetch_token()
            return self._token

    def _ensure_token(self) -> None:
        self._current_token()

    def _renew_token(self, *, stale: str) -> None:
        """Fetch a new token after a 401, unless another worker already did."""
        with self._token_lock:
            if self._token == stale:
                self._fetch_token()

    def _fetch_token(self) -> None:
        """POST the client credentials (caller holds `_token_lock`). Never retried on 400/401."""
        if not self.client_id or not self._client_secret:
            raise SpotifyError(CREDENTIALS_MISSING)
        if self._credentials_invalid:
            raise SpotifyError(CREDENTIALS_INVALID)
        with self._lock:  # _close_sessions() may take the session from another thread
            if self._token_session is None:
                self._token_session = _new_session()
            session = self._token_session
        only_network_errors = True
        for attempt in range(1, self.max_attempts + 1):
            self.token_requests += 1
            try:
                response = session.post(
                    self.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=(self.client_id, self._client_secret),
                    timeout=self.timeout,
                )
            except requests.ConnectionError as error:
                logger.warning("Spotify token request failed: %s", type(error).__name__)
            except requests.Timeout:
                only_network_errors = False
            else:
                if response.status_code in (400, 401, 403):
                    self._credentials_invalid = True
                    raise SpotifyError(CREDENTIALS_INVALID)
                payload = _json(response) if response.status_code == 200 else {}
                token = payload.get("access_token")
                if isinstance(token, str) and token:
                    expires_in = _number(payload.get("expires_in"), default=3600.0)
                    self._token = token
                    self._token_expires_at = time.monotonic() + max(
                        expires_in - TOKEN_RENEW_MARGIN, expires_in / 2
                    )
                    return
                only_network_errors = False
                logger.warning("Spotify token service answered HTTP %s", response.status_code)
            if attempt < self.max_attempts and self._stop.wait(self.backoff * 2 ** (attempt - 1)):
                raise _Stopped
        raise SpotifyError(NETWORK_ERROR if only_network_errors else AUTH_UNAVAILABLE)


# --- parsing --------------------------------------------------------------------------------


def parse_album(data: Mapping[str, Any]) -> SpotifyAlbum:
    """A SpotifyAlbum from Spotify's album JSON; KeyError/TypeError/ValueError if malformed."""
    album_id = str(data["id"])
    release_date, precision = _release_date(
        str(data.get("release_date") or ""), str(data.get("release_date_precision") or "")
    )
    large, thumbnail = _image_urls(data.get("images") or [])
    urls = data.get("external_urls") or {}
    total_tracks = data.get("total_tracks")
    return SpotifyAlbum(
        id=album_id,
        name=str(data.get("name") or ""),
        artist_names=tuple(
            str(artist["name"]) for artist in data.get("artists") or [] if artist.get("name")
        ),
        release_date=release_date,
        release_date_precision=precision,
        total_tracks=total_tracks if isinstance(total_tracks, int) else None,
        image_large_url=large,
        image_thumbnail_url=thumbnail,
        url=str(urls.get("spotify") or f"https://open.spotify.com/album/{album_id}"),
    )


def _release_date(text: str, precision: str) -> tuple[date | None, str]:
    """`2025-03-14` / `2025-03` / `2025` -> (date, precision); a month or year starts on day 1."""
    parts = text.split("-")[:3]
    try:
        numbers = [int(part) for part in parts] + [1] * (3 - len(parts))
        parsed = date(numbers[0], numbers[1], numbers[2])
    except ValueError:  # "0000" and other placeholders Spotify serves for unknown dates
        return None, precision if precision in ("day", "month", "year") else "year"
    # The text itself says how precise it is; the precision field only repeats that.
    return parsed, ("year", "month", "day")[len(parts) - 1]


def _image_urls(images: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(largest image, ~300 px image or else the smallest one at least 64 px wide)."""
    sized = [(_number(i.get("width"), default=0.0), str(i["url"])) for i in images if i.get("url")]
    if not sized:
        return "", ""
    sized.sort(key=lambda image: image[0], reverse=True)  # stable: unknown widths keep order
    large = sized[0][1]
    near_300 = [image for image in sized if 200 <= image[0] <= 400]
    if near_300:
        return large, min(near_300, key=lambda image: abs(image[0] - 300))[1]
    at_least_64 = [image for image in sized if image[0] >= 64]
    return large, at_least_64[-1][1] if at_least_64 else large


def _lookup(album_id: str, item: Any, *, missing: str = NOT_FOUND) -> AlbumLookup:
    if not isinstance(item, Mapping):
        return AlbumLookup(album_id, None, missing.format(status=200))
    try:
        return AlbumLookup(album_id, parse_album(item))
    except (KeyError, TypeError, ValueError, AttributeError):
        return AlbumLookup(album_id, None, UNEXPECTED_ANSWER.format(status=200))


# --- HTTP details ---------------------------------------------------------------------------


def _new_session() -> requests.Session:
    session = requests.Session()
    # One worker sends one request at a time; keep its connection alive between requests.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=2)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # no .netrc credentials or proxies from the environment
    return session


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_reason(response: requests.Response) -> str:
    payload = _json(response)
    error = payload.get("error")
    if isinstance(error, Mapping) and error.get("reason"):
        return str(error["reason"])
    return str(payload.get("reason") or "")


def _retry_after(value: str | None) -> float:
    """Seconds from a `Retry-After` header (seconds or an HTTP date); 1 s when absent."""
    if not value:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1.0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else 1.0


def _number(value: Any, *, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
