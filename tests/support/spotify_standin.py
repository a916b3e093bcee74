"""A loopback stand-in for the Spotify Web API (client-credentials token + album lookups).

In-process (tests, benchmarks)::

    with SpotifyStandIn(latency=0.05, mode="dev") as spotify:
        client = SpotifyClient(client_id=spotify.client_id, client_secret=spotify.client_secret,
                               api_base_url=spotify.base_url, token_url=spotify.token_url)
        spotify.queue_failure("429", retry_after=2)
        ...
        spotify.stats.single_requests

As a process (browser and crash tests run the app in other processes)::

    python -m tests.support.spotify_standin --port 0 --latency 0.05 --mode dev

prints one line ``SPOTIFY_STANDIN_READY <base_url> <token_url> <control_url>`` when it listens.
Tests in another process steer it through ``RemoteStandIn(control_url)`` (same methods, over HTTP).

Endpoints: ``POST /api/token``, ``GET /v1/albums?ids=`` (at most 20; 403 in "dev" mode, as for
Development Mode apps since March 2026), ``GET /v1/albums/{id}``; control under ``/_standin/``.
Albums are generated deterministically from their id unless set with ``set_album``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import signal
import threading
import time
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_CLIENT_ID = "standin-client-id"
DEFAULT_CLIENT_SECRET = "standin-client-secret"
BATCH_LIMIT = 20
MODES = ("batch", "dev")
# What `queue_failure` accepts; "quota" is a 429 whose body reason is QUOTA_EXCEEDED,
# "401" answers as for an expired access token, "timeout" answers only after `delay` seconds.
FAILURE_KINDS = ("429", "quota", "500", "502", "503", "timeout", "401", "403")
ENDPOINTS = ("api", "batch", "single", "token")

_WORDS = [
    "Astral",
    "Monolith",
    "Veil",
    "Fractal",
    "Ember",
    "Spire",
    "Obsidian",
    "Tide",
    "Helix",
    "Cinder",
    "Aurora",
    "Labyrinth",
    "Eclipse",
    "Nebula",
    "Tessellate",
    "Vortex",
    "Requiem",
    "Mirage",
    "Zenith",
    "Threnody",
    "Cascade",
    "Rift",
    "Halcyon",
    "Prism",
]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str  # without the query string
    query: str
    status: int
    started: float  # time.monotonic() in the stand-in's process
    finished: float


@dataclass(slots=True)
class StandInStats:
    """A snapshot of what the stand-in has seen since it started (or since `reset_stats`)."""

    requests: list[RequestRecord] = field(default_factory=list)
    by_path: dict[str, int] = field(default_factory=dict)
    token_requests: int = 0
    api_requests: int = 0  # every /v1/ request, whatever the answer
    batch_requests: int = 0
    single_requests: int = 0
    max_in_flight: int = 0  # most /v1/ requests being handled at the same moment
    connections: int = 0  # TCP connections accepted (keep-alive reuses them)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StandInStats:
        records = [RequestRecord(**record) for record in data.pop("requests")]
        return cls(requests=records, **data)


@dataclass(slots=True)
class _Failure:
    kind: str
    endpoint: str
    retry_after: float
    delay: float
    remaining: int


def generated_album(album_id: str) -> dict[str, Any]:
    """Spotify-shaped album JSON derived only from `album_id` (same id, same album)."""
    digest = hashlib.sha256(album_id.encode()).digest()
    year = 2015 + digest[0] % 11
    month = 1 + digest[1] % 12
    day = 1 + digest[2] % 28
    precision = ("day", "day", "month", "year")[digest[3] % 4]
    release_date = {
        "day": f"{year}-{month:02d}-{day:02d}",
        "month": f"{year}-{month:02d}",
        "year": f"{year}",
    }[precision]
    image_hash = digest.hex()[:40]
    return {
        "album_type": "album",
        "id": album_id,
        "name": f"{_WORDS[digest[4] % len(_WORDS)]} {_WORDS[digest[5] % len(_WORDS)]}",
        "artists": [
            {
                "id": f"artist{digest.hex()[:16]}",
                "name": f"The {_WORDS[digest[6] % len(_WORDS)]} Collective",
                "type": "artist",
            }
        ],
        "release_date": release_date,
        "release_date_precision": precision,
        "total_tracks": 1 + digest[7] % 14,
        "images": [
            {"url": f"https://i.scdn.co/image/{image_hash}640", "width": 640, "height": 640},
            {"url": f"https://i.scdn.co/image/{image_hash}300", "width": 300, "height": 300},
            {"url": f"https://i.scdn.co/image/{image_hash}064", "width": 64, "height": 64},
        ],
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
        "type": "album",
        "uri": f"spotify:album:{album_id}",
    }


class _State:
    """Everything the request handlers share; every access holds `lock`."""

    def __init__(
        self,
        *,
        latency: float,
        mode: str,
        client_id: str,
        client_secret: str,
        token_ttl: int,
        keep_alive: bool,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.latency = latency
        self.mode = mode
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.keep_alive = keep_alive
        self.tokens: set[str] = set()
        self.albums: dict[str, dict[str, Any]] = {}
        self.missing: set[str] = set()
        self.failures: deque[_Failure] = deque()
        self.in_flight = 0
        self.stats = StandInStats()

    def take_failure(self, endpoint: str) -> _Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.endpoint == endpoint or (
                    failure.endpoint == "api" and endpoint in ("batch", "single")
                ):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    def album_json(self, album_id: str) -> dict[str, Any] | None:
        with self.lock:
            if album_id in self.missing:
                return None
            return self.albums.get(album_id) or generated_album(album_id)

    def snapshot(self) -> StandInStats:
        with self.lock:
            stats = self.stats
            return StandInStats(
                requests=list(stats.requests),
                by_path=dict(stats.by_path),
                token_requests=stats.token_requests,
                api_requests=stats.api_requests,
                batch_requests=stats.batch_requests,
                single_requests=stats.single_requests,
                max_in_flight=stats.max_in_flight,
                connections=stats.connections,
            )


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so clients can keep connections alive, as they do with the real API.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle + delayed ACK stall
    # every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server_version = "SpotifyStandIn/1.0"
    state: _State  # set on the subclass each server makes

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.stats.connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet: tests and benchmarks read `stats`, not a log."""

    # --- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/_standin/"):
            self._control("GET", url.path)
            return
        if url.path.startswith("/v1/"):
            self._timed(url.path, url.query, self._api)
            return
        self._send_json(404, {"error": {"status": 404, "message": "Service not found"}})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/_standin/"):
            self._control("POST", url.path)
            return
        if url.path == "/api/token":
            self._timed(url.path, url.query, self._token)
            return
        self._read_body()
        self._send_json(405, {"error": {"status": 405, "message": "Method not allowed"}})

    # --- the API --------------------------------------------------------------------------

    def _timed(self, path: str, query: str, handler: Any) -> None:
        state = self.state
        is_api = path.startswith("/v1/")
        started = time.monotonic()
        with state.lock:
            if is_api:
                state.in_flight += 1
                state.stats.max_in_flight = max(state.stats.max_in_flight, state.in_flight)
        status = 500
        try:
            if state.latency:
                state.stopping.wait(state.latency)
            status = handler(path, query)
        finally:
            with state.lock:
                if is_api:
                    state.in_flight -= 1
                stats = state.stats
                stats.requests.append(
                    RequestRecord(self.command, path, query, status, started, time.monotonic())
                )
                stats.by_path[path] = stats.by_path.get(path, 0) + 1

    def _token(self, path: str, query: str) -> int:
        state = self.state
        body = parse_qs(self._read_body().decode("utf-8", "replace"))
        with state.lock:
            state.stats.token_requests += 1
        failure = state.take_failure("token")
        if failure is not None:
            return self._fail(failure)
        client_id, client_secret = _basic_credentials(self.headers.get("Authorization", ""))
        if not client_id:  # Spotify also accepts the credentials in the form body
            client_id = body.get("client_id", [""])[0]
            client_secret = body.get("client_secret", [""])[0]
        if body.get("grant_type") != ["client_credentials"]:
            return self._send_json(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type"}
            )
        if (client_id, client_secret) != (state.client_id, state.client_secret):
            return self._send_json(
                400, {"error": "invalid_client", "error_description": "Invalid client"}
            )
        token = "standin-token-" + secrets.token_urlsafe(24)
        with state.lock:
            state.tokens.add(token)
        return self._send_json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": state.token_ttl}
        )

    def _api(self, path: str, query: str) -> int:
        state = self.state
        if path in ("/v1/albums", "/v1/albums/"):  # Spotify serves both; spotipy sends the second
            endpoint = "batch"
        elif path.startswith("/v1/albums/") and path.count("/") == 3:
            endpoint = "single"
        else:
            endpoint = "other"
        with state.lock:
            state.stats.api_requests += 1
            if endpoint == "batch":
                state.stats.batch_requests += 1
            elif endpoint == "single":
                state.stats.single_requests += 1
        bearer = self.headers.get("Authorization", "")
        token = bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else ""
        with state.lock:
            token_known = token in state.tokens
        if not token_known:
            return _error(self, 401, "Invalid access token")
        failure = state.take_failure(endpoint)
        if failure is not None:
            return self._fail(failure)
        if endpoint == "batch":
            return self._batch(query)
        if endpoint == "single":
            album = state.album_json(path.rsplit("/", 1)[1])
            if album is None:
                return _error(self, 404, "Resource not found")
            return self._send_json(200, album)
        return _error(self, 404, "Service not found")

    def _batch(self, query: str) -> int:
        if self.state.mode == "dev":
            return _error(self, 403, "Forbidden")
        ids = [i for i in ",".join(parse_qs(query).get("ids", [])).split(",") if i]
        if not ids:
            return _error(self, 400, "invalid id")
        if len(ids) > BATCH_LIMIT:
            return _error(self, 400, "Too many ids requested")
        return self._send_json(200, {"albums": [self.state.album_json(i) for i in ids]})

    def _fail(self, failure: _Failure) -> int:
        kind = failure.kind
        if kind in ("429", "quota"):
            error: dict[str, Any] = {"status": 429, "message": "API rate limit exceeded"}
            if kind == "quota":
                error["reason"] = "QUOTA_EXCEEDED"
            headers = {"Retry-After": _seconds_text(failure.retry_after)}
            return self._send_json(429, {"error": error}, headers=headers)
        if kind == "timeout":
            # Answer late (or never, if the stand-in stops first); the client should give up.
            self.state.stopping.wait(failure.delay)
            return self._send_json(200, {"error": {"status": 200, "message": "too late"}})
        if kind == "401":
            return _error(self, 401, "The access token expired")
        if kind == "403":
            return _error(self, 403, "Forbidden")
        return _error(self, int(kind), "Server error")

    # --- control (not counted in the stats) -------------------------------------------------

    def _control(self, method: str, path: str) -> None:
        body = self._read_body() if method == "POST" else b""
        payload = json.loads(body or b"{}")
        target = self.server.standin  # type: ignore[attr-defined]
        action = path.removeprefix("/_standin/")
        if method == "GET" and action == "stats":
            self._send_json(200, target.stats.to_json())
            return
        if method == "POST" and action in _REMOTE_ACTIONS:
            getattr(target, action.replace("-", "_"))(**payload)
            self._send_json(200, {"ok": True})
            return
        self._send_json(404, {"error": f"unknown control {method} {path}"})

    # --- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(
        self, status: int, payload: Any, *, headers: dict[str, str] | None = None
    ) -> int:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if not self.state.keep_alive:
                self.send_header("Connection", "close")  # also sets close_connection
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test)
        return status


_REMOTE_ACTIONS = (
    "queue-failure",
    "set-album",
    "mark-missing",
    "set-mode",
    "set-latency",
    "expire-tokens",
    "reset-stats",
    "clear-failures",
)


def _error(handler: _Handler, status: int, message: str) -> int:
    return handler._send_json(status, {"error": {"status": status, "message": message}})


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _basic_credentials(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


class SpotifyStandIn:
    """A threaded loopback Spotify: start with `with SpotifyStandIn(...) as spotify:`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        mode: str = "batch",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_ttl: int = 3600,
        keep_alive: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._state = _State(
            latency=latency,
            mode=mode,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl=token_ttl,
            keep_alive=keep_alive,
        )
        self.client_id = client_id
        self.client_secret = client_secret
        handler = type("StandInHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._server.standin = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.origin = f"http://{self.host}:{self.port}"
        self.base_url = f"{self.origin}/v1/"
        self.token_url = f"{self.origin}/api/token"
        self.control_url = f"{self.origin}/_standin/"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> SpotifyStandIn:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"spotify-standin-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()  # wakes handlers sleeping on latency or a "timeout" failure
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SpotifyStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- scripting --------------------------------------------------------------------------

    def queue_failure(
        self,
        kind: str,
        *,
        times: int = 1,
        endpoint: str = "api",
        retry_after: float = 1,
        delay: float = 30.0,
    ) -> None:
        """Answer the next `times` requests to `endpoint` with a failure instead.

        kind: "429" (with `Retry-After: retry_after`), "quota" (429 with reason QUOTA_EXCEEDED),
        "500" / "502" / "503", "401" (expired token), "403", "timeout" (answer after `delay` s).
        endpoint: "api" (any /v1/ request), "batch", "single" or "token". Failures are used
        in the order queued.
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}, not {kind!r}")
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
        with self._state.lock:
            self._state.failures.append(
                _Failure(kind, endpoint, float(retry_after), float(delay), times)
            )

    def clear_failures(self) -> None:
        with self._state.lock:
            self._state.failures.clear()

    def set_album(self, album_id: str, **fields: Any) -> None:
        """Serve `album_id` as the generated album with `fields` replaced (e.g. name, images)."""
        with self._state.lock:
            self._state.albums[album_id] = {**generated_album(album_id), **fields}
            self._state.missing.discard(album_id)

    def mark_missing(self, *album_ids: str, ids: list[str] | None = None) -> None:
        """Answer 404 for these ids (null in a batch answer)."""
        with self._state.lock:
            self._state.missing.update(album_ids, ids or ())

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        with self._state.lock:
            self._state.mode = mode

    def set_latency(self, latency: float) -> None:
        with self._state.lock:
            self._state.latency = latency

    def expire_tokens(self) -> None:
        """Every token issued so far is now rejected with 401."""
        with self._state.lock:
            self._state.tokens.clear()

    def reset_stats(self) -> None:
        with self._state.lock:
            self._state.stats = StandInStats()

    @property
    def mode(self) -> str:
        return self._state.mode

    @property
    def stats(self) -> StandInStats:
        return self._state.snapshot()

    def album(self, album_id: str) -> dict[str, Any] | None:
        """The JSON the stand-in serves for `album_id` (None when marked missing)."""
        return self._state.album_json(album_id)


class RemoteStandIn:
    """Steer a stand-in running in another process (`python -m tests.support.spotify_standin`)."""

    def __init__(self, control_url: str) -> None:
        self.control_url = control_url.rstrip("/") + "/"

    def _post(self, action: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.control_url + action,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def queue_failure(self, kind: str, **options: Any) -> None:
        self._post("queue-failure", {"kind": kind, **options})

    def clear_failures(self) -> None:
        self._post("clear-failures", {})

    def set_album(self, album_id: str, **fields: Any) -> None:
        self._post("set-album", {"album_id": album_id, **fields})

    def mark_missing(self, *album_ids: str) -> None:
        self._post("mark-missing", {"ids": list(album_ids)})

    def set_mode(self, mode: str) -> None:
        self._post("set-mode", {"mode": mode})

    def set_latency(self, latency: float) -> None:
        self._post("set-latency", {"latency": latency})

    def expire_tokens(self) -> None:
        self._post("expire-tokens", {})

    def reset_stats(self) -> None:
        self._post("reset-stats", {})

    @property
    def stats(self) -> StandInStats:
        with urllib.request.urlopen(self.control_url + "stats", timeout=10) as response:
            return StandInStats.from_json(json.loads(response.read()))


READY_PREFIX = "SPOTIFY_STANDIN_READY"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--mode", choices=MODES, default="batch")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--token-ttl", type=int, default=3600)
    parser.add_argument("--missing", default="", help="comma-separated album ids to answer 404")
    args = parser.parse_args(argv)

    standin = SpotifyStandIn(
        latency=args.latency,
        mode=args.mode,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        host=args.host,
        port=args.port,
    )
    if args.missing:
        standin.mark_missing(*args.missing.split(","))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with standin:
        print(READY_PREFIX, standin.base_url, standin.token_url, standin.control_url, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
