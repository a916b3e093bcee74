"""Count the status polls that fail on a reused connection: the old gunicorn flags against
config/gunicorn.py, side by side.

    python -m bench.poll_resets                 # 20 pollers, every 2 s, 60 s per server
    python -m bench.poll_resets --seconds 20    # quicker

Each poller is a `requests.Session` (one kept-alive connection, as a browser tab's polling is)
fetching the status fragment like the panel: the panel's answer replaces the polling element,
whose new timer fires 2 s after the answer arrived, so the connection sits idle for 2 s plus the
time the browser takes to swap, about the server's 2 s keep-alive. A poll that fails (connection
reset or closed under it) is counted; the poller goes on. Baseline: the flags the image used
before the config file (`--workers 2 --threads 4`, gunicorn's default keep-alive of 2 s).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.support.e2e.servers import AppServer, app_environment
from tests.support.processes import DatabaseFactory

POLL_INTERVAL = 2.0
STATUS_PATH = "/catalog/sync/status/"
BASELINE_FLAGS = ["--workers=2", "--threads=4"]


def poll(url: str, *, seconds: float, counts: dict[str, int], lock: threading.Lock) -> None:
    session = requests.Session()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ok = session.get(url, timeout=10, headers={"HX-Request": "true"}).status_code == 200
            outcome = "ok" if ok else "bad_status"
        except requests.RequestException:
            outcome = "failed"
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
        time.sleep(POLL_INTERVAL + random.uniform(0.0, 0.05))  # the swap's few milliseconds


def run(server: AppServer, *, pollers: int, seconds: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    lock = threading.Lock()
    server.start()
    try:
        threads = [
            threading.Thread(
                target=poll,
                args=(server.url + STATUS_PATH,),
                kwargs={"seconds": seconds, "counts": counts, "lock": lock},
            )
            for _ in range(pollers)
        ]
        for index, thread in enumerate(threads):
            thread.start()
            time.sleep(POLL_INTERVAL / pollers * (index % 2))  # spread, as tabs opened apart
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        factory = DatabaseFactory(session_url="", workdir=Path(workdir))
        try:
            env = app_environment(database_url=factory.create().url)
            log = Path(workdir) / "server.log"
            rows = [
                (
                    "old flags (keep-alive 2 s)",
                    AppServer(env=env, workers=2, log_path=log, config=None, extra=BASELINE_FLAGS),
                ),
                ("config/gunicorn.py", AppServer(env=env, workers=2, log_path=log)),
            ]
            print(
                f"{args.pollers} pollers, one connection each, every {POLL_INTERVAL:.0f} s, "
                f"{args.seconds:.0f} s per server"
            )
            for label, server in rows:
                counts = run(server, pollers=args.pollers, seconds=args.seconds)
                total = sum(counts.values())
                print(
                    f"{label:28} {total:4d} polls, {counts.get('failed', 0):3d} failed, "
                    f"{counts.get('bad_status', 0):3d} non-200"
                )
        finally:
            factory.close()


if __name__ == "__main__":
    main()
