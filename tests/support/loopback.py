"""A loopback port that accepts connections and never answers.

What a hung service looks like from a client (the user trial: SPOTIFY_TOKEN_URL pointing at such
a port): the connection is made, the request is sent, no byte ever comes back, until the server
closes the connection when the `with` block ends.

    with silent_server() as silent:
        client = SpotifyClient(..., token_url=silent.url("/api/token"))
        assert silent.connected.wait(timeout=30)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass


@dataclass(frozen=True)
class SilentServer:
    base_url: str  # http://127.0.0.1:PORT
    connected: threading.Event  # set at the first accepted connection

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """Listen on 127.0.0.1, accept every connection and hold it unanswered; close them all on
    exit (a client still waiting then sees the connection end)."""
    listener = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # shut down on exit
            held.append(connection)
            connected.set()

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    try:
        yield SilentServer(f"http://127.0.0.1:{listener.getsockname()[1]}", connected)
    finally:
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        listener.close()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
