"""Spotify Web API client (client-credentials flow) returning plain dataclasses.

spotipy does the HTTP: `SpotifyClientCredentials` fetches and caches the token (in memory,
never a `.cache` file) and `Spotify` sends the album lookups, turning every HTTP error into a
`SpotifyException` with its status, reason and headers. Both are handed our own requests
sessions without retries: spotipy's built-in session retries 429s and 5xx inside urllib3 (a
429 then arrives as a bare "Max Retries" error without its `Retry-After`), so our policy
decides instead. Ours: batches of 20 and the switch to single lookups after a 403 (Development
Mode apps), at most `concurrency` requests in flight, a 429 that pauses every worker, a long
`Retry-After` or QUOTA_EXCEEDED that stops enrichment, 5xx and timeouts retried with backoff,
credentials rejected once for the whole run, per-album failures, and a cancel that is honoured
while waiting (the first token request included).
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
from typing import Any

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import MemoryCacheHandler

from catalog.services.download import NETWORK_ERROR, never_cancel

logger = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token, the Basic credentials) at DEBUG and every
# HTTP error at ERROR; the errors are reported per album here, the secrets must not be at all.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)

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
# Consecutive short 429s tolerated for one request before enrichment stops.
MAX_RATE_LIMIT_WAITS = 10
# How often the calling thread wakes to check `should_stop` while workers wait or pause.
POLL_INTERVAL = 0.25
SINGLE_ERRORS = {404: NOT_FOUND, 400: INVALID_ID, 403: ACCESS_DENIED}


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


class _RetrySingly(Exception):
    """The batch endpoint refused the request (403 in Development Mode, 400 for a malformed
    id): look these ids up one by one."""


class _Stopped(Exception):
    """The run was stopped (cancel or a fatal error elsewhere) while this worker waited."""


class _Credentials(spotipy.SpotifyClientCredentials):
    """spotipy's client-credentials flow on our token URL, one token request at a time."""

    def __init__(self, *, token_url: str, **options: Any) -> None:
        super().__init__(cache_handler=MemoryCacheHandler(), **options)
        self.OAUTH_TOKEN_URL = token_url  # spotipy reads the URL from this class constant
        self.lock = threading.RLock()

    def get_access_token(self, as_dict: bool = False, check_cache: bool = True) -> str:
        with self.lock:  # workers share the cached token: never two fetches at once
            return super().get_access_token(as_dict=False, check_cache=check_cache)

    def cached_token(self) -> str:
        info = self.cache_handler.get_cached_token()
        return info["access_token"] if info and not self.is_token_expired(info) else ""

    def _handle_oauth_error(self, http_error: requests.HTTPError) -> None:
        raise http_error  # spotipy's SpotifyOauthError would drop the HTTP status


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
        self._credentials: _Credentials | None = None
        self._credentials_invalid = False
        self._pause_until = 0.0
        self._pauses: list[RateLimitPause] = []  # announced by workers, yielded by the caller
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

    # --- the run (on the calling thread) ----------------------------------------------------

    def iter_albums(
        self, album_ids: Sequence[str], *, should_stop: Callable[[], bool] = never_cancel
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
                        pending.extendleft(reversed(self._tasks(task.ids, single=True)))
                    else:
                        running[executor.submit(self._run_task, task)] = task
                done, _ = wait(running, timeout=POLL_INTERVAL, return_when=FIRST_COMPLETED)
                with self._lock:
                    pauses, self._pauses = self._pauses, []
                yield from pauses
                fatal: SpotifyError | None = None
                for future in done:
                    task = running.pop(future)
                    try:
                        lookups = future.result()
                    except _RetrySingly:
                        pending.extendleft(reversed(self._tasks(task.ids, single=True)))
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
            # A stop may leave a request hanging (the first token request too): closing its
            # session drops the idle connections now, and the one in flight when it ends.
            with self._lock:
                sessions, self._sessions = self._sessions, []
            for session in sessions:
                session.close()

    def _first_token(self, should_stop: Callable[[], bool]) -> bool:
        """Get a token on a daemon thread while this one keeps checking `should_stop`: a token
        service that accepts connections but never answers must hold up neither a cancel nor
        the interpreter's exit (which waits for the executor's threads) for `max_attempts`
        timeouts. False when stopped; the fetch then gives up at its next wait."""
        failure: list[BaseException] = []

        def fetch() -> None:
            try:
                self._token()
            except BaseException as error:  # raised on the calling thread below
                failure.append(error)

        thread = threading.Thread(target=fetch, name="spotify-token", daemon=True)
        thread.start()
        thread.join(POLL_INTERVAL)
        while thread.is_alive():
            if should_stop():
                return False
            thread.join(POLL_INTERVAL)
        if failure:
            if isinstance(failure[0], _Stopped):
                return False
            raise failure[0]
        return True

    def _tasks(self, ids: Sequence[str], *, single: bool = False) -> list[_Task]:
        if single or self.mode == "single":
            return [_Task("single", (album_id,)) for album_id in ids]
        return [
            _Task("batch", tuple(ids[start : start + BATCH_SIZE]))
            for start in range(0, len(ids), BATCH_SIZE)
        ]

    # --- one task (on a worker thread) ------------------------------------------------------

    def _run_task(self, task: _Task) -> list[AlbumLookup]:
        try:
            if task.kind == "single":
                return [self._lookup_single(task.ids[0])]
            return self._lookup_batch(task.ids)
        except SpotifyError:
            self._stop.set()  # other workers must not start queued tasks after a fatal error
            raise

    def _lookup_batch(self, ids: tuple[str, ...]) -> list[AlbumLookup]:
        if self.mode == "single":  # another worker's batch was refused after this one was queued
            raise _RetrySingly
        answer = self._call(lambda api: api.albums(list(ids)))
        if isinstance(answer, str):
            return [AlbumLookup(album_id, None, answer) for album_id in ids]
        status, payload = answer
        if status == 403:
            with self._lock:
                switched, self.mode = self.mode != "single", "single"
            if switched:
                logger.info("Spotify refused a batch lookup (403): looking albums up one by one")
        if status in (400, 403):
            raise _RetrySingly
        items = payload.get("albums") if isinstance(payload, dict) else None
        if status != 200 or not isinstance(items, list) or len(items) != len(ids):
            error = UNEXPECTED_ANSWER.format(status=status)
            return [AlbumLookup(album_id, None, error) for album_id in ids]
        return [_lookup(album_id, item) for album_id, item in zip(ids, items, strict=True)]

    def _lookup_single(self, album_id: str) -> AlbumLookup:
        answer = self._call(lambda api: api.album(album_id))
        if isinstance(answer, str):
            return AlbumLookup(album_id, None, answer)
        status, payload = answer
        if status == 200:
            return _lookup(album_id, payload, missing=UNEXPECTED_ANSWER)
        error = SINGLE_ERRORS.get(status, UNEXPECTED_ANSWER).format(status=status)
        return AlbumLookup(album_id, None, error)

    def _call(self, request: Callable[[spotipy.Spotify], Any]) -> tuple[int, Any] | str:
        """Send one spotipy request through pauses, token renewal and retries.

        Returns (status, JSON) for 2xx and 4xx answers other than 401/429 or, when retries are
        spent on 5xx answers and timeouts, the failure message for the albums concerned.
        """
        failures: list[str] = []  # one message per spent attempt
        rate_limit_waits = 0
        refreshed = False
        while True:
            self._wait_for_pause()
            token = self._token()
            with self._lock:
                self.requests_made += 1
            try:
                return 200, request(self._api())
            except spotipy.SpotifyException as error:
                status = error.http_status
                if status == 401 and not refreshed:
                    refreshed = True
                    self._token(stale=token)
                    continue
                if status == 401:
                    raise SpotifyError(TOKEN_REJECTED) from None
                if status == 429:
                    rate_limit_waits += 1
                    if rate_limit_waits > MAX_RATE_LIMIT_WAITS:
                        raise SpotifyError(RATE_LIMIT_PERSISTS) from None
                    self._start_pause(error)
                    continue
                if status < 500:
                    return status, None
                failures.append(SERVER_ERROR.format(status=status))
            except requests.ConnectionError as error:  # DNS, refused, reset (ConnectTimeout too)
                logger.warning("Spotify request failed: %s", type(error).__name__)
                failures.append(NETWORK_ERROR)
            except requests.Timeout:
                failures.append(TIMED_OUT.format(seconds=_seconds(self.timeout)))
            if len(failures) >= self.max_attempts:
                if set(failures) == {NETWORK_ERROR}:  # no album would do better: stop the run
                    raise SpotifyError(NETWORK_ERROR)
                return failures[-1]
            self._sleep(self.backoff * 2 ** (len(failures) - 1))

    def _api(self) -> spotipy.Spotify:
        """This worker's spotipy client: its own keep-alive session, the shared token."""
        api = getattr(self._local, "api", None)
        if api is None:
            api = spotipy.Spotify(
                auth_manager=self._credentials,
                # spotipy annotates these as bool and int, but documents a Session and seconds
                requests_session=self._new_session(),  # pyright: ignore[reportArgumentType]
                requests_timeout=self.timeout,  # pyright: ignore[reportArgumentType]
            )
            api.prefix = self.api_base_url
            self._local.api = api
        return api

    def _new_session(self) -> requests.Session:
        """A session that the end of the run closes."""
        session = _new_session()
        with self._lock:
            self._sessions.append(session)
        return session

    # --- rate limits ------------------------------------------------------------------------

    def _start_pause(self, error: spotipy.SpotifyException) -> None:
        """Make every worker wait for `Retry-After`, or stop the run if that is too long."""
        if error.reason == "QUOTA_EXCEEDED":
            raise SpotifyError(QUOTA_EXCEEDED)
        seconds = _retry_after((error.headers or {}).get("Retry-After"))
        if seconds > self.max_retry_after:
            limit = _seconds(self.max_retry_after)
            raise SpotifyError(RATE_LIMIT_TOO_LONG.format(seconds=_seconds(seconds), limit=limit))
        with self._lock:
            now = time.monotonic()
            resume_at = now + seconds
            # Tell the caller only about a new or a longer pause, not each worker's 429.
            announce = self._pause_until <= now or resume_at > self._pause_until + 0.5
            self._pause_until = max(self._pause_until, resume_at)
            if announce:
                self._pauses.append(RateLimitPause(seconds))
        if announce:
            logger.info("Spotify rate limit: pausing %s s", _seconds(seconds))

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

    def _token(self, *, stale: str = "") -> str:
        """The cached token, or a new one when there is none, it expires, or it is `stale`
        (Spotify answered 401 with it). Bad credentials are never asked again."""
        if not self.client_id or not self._client_secret:
            raise SpotifyError(CREDENTIALS_MISSING)
        if self._credentials is None:  # first called on the one token thread of the run
            self._credentials = _Credentials(
                token_url=self.token_url,
                client_id=self.client_id,
                client_secret=self._client_secret,
                requests_session=self._new_session(),
                requests_timeout=self.timeout,
            )
        credentials = self._credentials
        with credentials.lock:
            token = credentials.cached_token()
            if token and token != stale:
                return token
            if self._credentials_invalid:
                raise SpotifyError(CREDENTIALS_INVALID)
            return self._fetch_token(credentials)

    def _fetch_token(self, credentials: _Credentials) -> str:
        network_errors = 0
        for attempt in range(1, self.max_attempts + 1):
            self.token_requests += 1
            try:
                return credentials.get_access_token(check_cache=False)
            except requests.ConnectionError as error:
                network_errors += 1
                logger.warning("Spotify token request failed: %s", type(error).__name__)
            except requests.Timeout:
                pass  # retried like the answers below
            except requests.HTTPError as error:
                status = error.response.status_code
                if status in (400, 401, 403):
                    self._credentials_invalid = True
                    raise SpotifyError(CREDENTIALS_INVALID) from None
                logger.warning("Spotify token service answered HTTP %s", status)
            except (ValueError, KeyError, TypeError):  # a 200 without a usable token
                logger.warning("Spotify token service sent an unusable answer")
            if attempt < self.max_attempts:
                self._sleep(self.backoff * 2 ** (attempt - 1))
        if network_errors == self.max_attempts:  # the network, not Spotify's login service
            raise SpotifyError(NETWORK_ERROR)
        raise SpotifyError(AUTH_UNAVAILABLE)


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
        name=_text(data.get("name")),
        artist_names=tuple(
            name for artist in data.get("artists") or [] if (name := _text(artist.get("name")))
        ),
        release_date=release_date,
        release_date_precision=precision,
        total_tracks=total_tracks if isinstance(total_tracks, int) else None,
        image_large_url=large,
        image_thumbnail_url=thumbnail,
        url=_text(urls.get("spotify") or f"https://open.spotify.com/album/{album_id}"),
    )


def _text(value: Any) -> str:
    """Spotify's text as we store it: without NUL characters, which PostgreSQL's text cannot
    hold (one such name would fail its album's write at every sync)."""
    return str(value or "").replace("\x00", "")


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
    sized = [
        (_number(i.get("width"), default=0.0), _text(i["url"])) for i in images if i.get("url")
    ]
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


def _new_session() -> requests.Session:
    session = requests.Session()
    # No retries inside requests/urllib3 (ours decide); one worker sends one request at a time,
    # keeping its connection alive between requests.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # no .netrc credentials or proxies from the environment
    return session
