"""A loopback HTTP server that serves one workbook's bytes, for tests that run the app as a server.

The app's processes only need `server.url` (as GOOGLE_SHEETS_XLSX_URL); the test swaps the
workbook (`set_workbook`) or slows the download (`delay`) while the server runs:

    with WorkbookServer(make_workbook(...), delay=2.0) as server:
        env["GOOGLE_SHEETS_XLSX_URL"] = server.url
        ...
        server.set_workbook(make_workbook(...))  # the next download gets the new bytes

Also runnable on its own: `python -m tests.workbook_server PATH.xlsx --port 8765 --delay 1`.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PATH = "/export.xlsx"


class WorkbookServer:
    """Serve `data` on 127.0.0.1 (any path), after `delay` seconds; both can change at run time."""

    def __init__(self, data: bytes = b"", *, delay: float = 0.0, port: int = 0) -> None:
        self._data = data
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.delay = delay
        self.requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        # Handler threads may sit in `delay`; they must neither keep the process alive nor be
        # joined on close.
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EXPORT_PATH}"

    def set_workbook(self, data: bytes) -> None:
        """Serve `data` from the next request on."""
        with self._lock:
            self._data = data

    def start(self) -> WorkbookServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="workbook-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers waiting out `delay`
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

    def _current(self) -> bytes:
        with self._lock:
            self.requests += 1
            return self._data

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = server._current()
                if server.delay > 0:
                    server._stopping.wait(server.delay)
                self.send_response(200)
                self.send_header("Content-Type", XLSX_CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up (e.g. the app server was killed).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
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
