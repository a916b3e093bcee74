"""A slowloris against the status poll: gunicorn alone, then nginx (deploy/nginx/) in front.

    python -m bench.slowloris                   # 40 slow clients, 30 s of polls per setup
    python -m bench.slowloris --clients 16      # the smaller attack

gunicorn runs with config/gunicorn.py (2 workers x 4 threads) on a scratch SQLite database;
nginx is Debian's, with the repository's configuration (tests/support/e2e/nginx.py). The slow
clients each send one header byte every `--interval` seconds and reconnect when dropped; the
probe fetches the status JSON on a new connection every `--every` seconds and waits up to
`--timeout` seconds. Prints, per setup, the answers within 1 s, the late ones, the ones that
never came (hung), and the median and slowest answer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.support.e2e.client import STATUS_PATH
from tests.support.e2e.nginx import NginxServer, SlowClients, probe
from tests.support.e2e.servers import AppServer, app_environment
from tests.support.processes import DatabaseFactory


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--interval", type=float, default=12.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    return parser.parse_args(argv)


def attack(port: int, url: str, args: argparse.Namespace) -> list[float | None]:
    with SlowClients(
        port=port, count=args.clients, interval=args.interval, seconds=args.seconds + 30
    ):
        return probe(url, seconds=args.seconds, every=args.every, timeout=args.timeout)


def report(name: str, latencies: list[float | None]) -> None:
    answered = [latency for latency in latencies if latency is not None]
    hung = len(latencies) - len(answered)
    late = sum(latency > 1.0 for latency in answered)
    figures = (
        f"median {statistics.median(answered) * 1000:.1f} ms, slowest {max(answered) * 1000:.1f} ms"
        if answered
        else "no answer"
    )
    print(
        f"{name}: {len(latencies)} probes, {len(answered) - late} within 1 s, {late} late, "
        f"{hung} hung (no answer in the timeout); {figures}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-slowloris.") as tmp:
        workdir = Path(tmp)
        db = DatabaseFactory(session_url="", workdir=workdir).create()
        server = AppServer(
            env=app_environment(database_url=db.url, overrides={"SPOTIFY_ENABLED": "0"}),
            workers=2,
            log_path=workdir / "server.log",
        )
        nginx = NginxServer(upstream=f"127.0.0.1:{server.port}", log_path=workdir / "nginx.log")
        try:
            server.start()
            print(
                f"{args.clients} slow clients, a byte every {args.interval:.0f} s; a probe every "
                f"{args.every} s for {args.seconds:.0f} s, timeout {args.timeout} s"
            )
            report("gunicorn alone", attack(server.port, server.url + STATUS_PATH, args))
            nginx.start()
            report("nginx in front", attack(nginx.port, nginx.url + STATUS_PATH, args))
        finally:
            nginx.stop()
            server.stop()


if __name__ == "__main__":
    main()
