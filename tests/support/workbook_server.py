"""A loopback HTTP server standing in for Google Sheets' XLSX export, for every test that downloads.

Each path (the query string is ignored) is answered by its `Route`: status, body, content type,
delays before the headers and before the body, a body that trickles (one byte every `trickle`
s), and a Content-Length that may lie or be left out.
Paths without a route of their own get the workbook (`set_workbook`), or 404 while there is none.
`delay` slows every answer and, like the workbook, may change while the server runs:

    with WorkbookServer(make_workbook(...), delay=2.0) as server:
        env["GOOGLE_SHEETS_XLSX_URL"] = server.url
        ...
        server.set_workbook(make_workbook(...))  # the next download gets the new bytes
        server.routes["/cut"] = Route(body=data[:100], declared_length=len(data))
        load_workbook(server.url_for("/cut"))

Also runnable on its own: `python -m tests.support.workbook_server PATH.xlsx --port 8765 --delay 1`.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PATH = "/export.xlsx"


@dataclass(frozen=True)
class Route:
    """How the server answers one path."""

    status: int = 200
    body: bytes = b""
    content_type: str = XLSX_CONTENT_TYPE
    delay_before_headers: float = 0.0
    delay_before_body: float = 0.0
    declared_length: int | None = None  # Content-Length to announce; None: the body's length
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does
    trickle: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart


MISSING = Route(status=404, body=b"missing", content_type="text/plain")


class WorkbookServer:
    """A threaded HTTP server on 127.0.0.1 answering each path with its Route (see the module)."""

    def __init__(
        self,
        data: bytes | None = None,
        *,
        content_type: str = XLSX_CONTENT_TYPE,
        delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self.routes: dict[str, Route] = {}
        self.workbook: Route | None = None
        if data is not None:
            self.set_workbook(data, content_type=content_type)
        self.delay = delay
        self.requested = threading.Event()  # set once a request has arrived
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        # Handler threads may sit in a delay; they must neither keep the process alive nor be
        # joined on close.
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The workbook's URL (what GOOGLE_SHEETS_XLSX_URL is set to)."""
        return self.url_for(EXPORT_PATH)

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set_workbook(self, data: bytes, *, content_type: str = XLSX_CONTENT_TYPE) -> None:
        """Answer the paths without a route of their own with `data`, from the next request on."""
        self.workbook = Route(body=data, content_type=content_type)

    def start(self) -> WorkbookServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="workbook-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers waiting out a delay
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> WorkbookServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _route(self, path: str) -> Route:
        self.requested.set()
        return self.routes.get(path.split("?")[0]) or self.workbook or MISSING

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                route = server._route(self.path)
                try:
                    server._pause(server.delay + route.delay_before_headers)
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    if route.send_length:
                        length = route.declared_length
                        self.send_header("Content-Length", str(length or len(route.body)))
                    self.end_headers()
                    self.wfile.flush()
                    server._pause(route.delay_before_body)
                    if route.trickle > 0:
                        for index in range(len(route.body)):
                            if server._stopping.is_set():
                                break
                            self.wfile.write(route.body[index : index + 1])
                            self.wfile.flush()
                            server._pause(route.trickle)
                    else:
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout test, a killed app server)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: test output stays readable

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", type=Path, help="the .xlsx file to serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    server = WorkbookServer(args.path.read_bytes(), delay=args.delay, port=args.port)
    print(server.url, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
