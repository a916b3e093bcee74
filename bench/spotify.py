"""Time the Spotify client against the loopback stand-in, in batch and in Development Mode.

    python -m bench.spotify                      # 2,148 ids, 50 ms a request, concurrency 4
    python -m bench.spotify --modes dev --repeat 3 --concurrency 8

The ideal wall time is the number of request rounds times the latency:
ceil(ceil(N/20) / concurrency) * latency in batch mode, ceil(N / concurrency) * latency in dev mode
(plus the token request and, in dev mode, the first round of batch requests that answer 403).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from catalog.services.spotify import AlbumLookup, SpotifyClient
from tests.support.spotify_standin import SpotifyStandIn

ALBUMS_WITH_IDS_2025 = 2148  # albums with a Spotify link on the 2025 tab


def run_once(
    *, mode: str, ids: list[str], latency: float, concurrency: int, work: float, keep_alive: bool
) -> dict[str, float]:
    with SpotifyStandIn(latency=latency, mode=mode, keep_alive=keep_alive) as standin:
        client = SpotifyClient(
            client_id=standin.client_id,
            client_secret=standin.client_secret,
            api_base_url=standin.base_url,
            token_url=standin.token_url,
            concurrency=concurrency,
        )
        started = time.perf_counter()
        found = 0
        for item in client.iter_albums(ids):
            if isinstance(item, AlbumLookup) and item.album:
                found += 1
            if work:
                time.sleep(work)  # the caller's per-album database write
        elapsed = time.perf_counter() - started
        stats = standin.stats
    return {
        "seconds": elapsed,
        "found": found,
        "requests": client.requests_made,
        "batch": stats.batch_requests,
        "single": stats.single_requests,
        "token": stats.token_requests,
        "max_in_flight": stats.max_in_flight,
        "connections": stats.connections,
    }


def ideal_seconds(*, mode: str, count: int, latency: float, concurrency: int) -> float:
    if mode == "batch":
        rounds = math.ceil(math.ceil(count / 20) / concurrency)
    else:
        rounds = math.ceil(count / concurrency) + 1  # + the batch round that answers 403
    return (rounds + 1) * latency  # + the token request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--ids", type=int, default=ALBUMS_WITH_IDS_2025)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--modes", default="batch,dev")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--no-keep-alive",
        action="store_true",
        help="the stand-in closes every connection (a new TCP connection per request)",
    )
    parser.add_argument(
        "--work-ms",
        type=float,
        default=0.0,
        help="simulated work per yielded item on the calling thread (the importer's DB write)",
    )
    args = parser.parse_args()

    ids = [f"benchAlbum{number:012d}" for number in range(args.ids)]
    latency_ms = args.latency * 1000
    print(
        f"{args.ids} album ids, {latency_ms:g} ms a request, concurrency {args.concurrency}, "
        f"{args.work_ms:g} ms caller work per album, "
        f"keep-alive {'off' if args.no_keep_alive else 'on'}"
    )
    for mode in args.modes.split(","):
        runs = [
            run_once(
                mode=mode,
                ids=ids,
                latency=args.latency,
                concurrency=args.concurrency,
                work=args.work_ms / 1000,
                keep_alive=not args.no_keep_alive,
            )
            for _ in range(args.repeat)
        ]
        last = runs[-1]
        median = statistics.median(run["seconds"] for run in runs)
        ideal = ideal_seconds(
            mode=mode, count=args.ids, latency=args.latency, concurrency=args.concurrency
        )
        print(
            f"{mode:5}  median {median:6.2f} s over {args.repeat} run(s)  ideal {ideal:6.2f} s  "
            f"ratio {median / ideal:4.2f}  found {last['found']:.0f}  "
            f"API requests {last['requests']:.0f} (batch {last['batch']:.0f}, "
            f"single {last['single']:.0f})  token {last['token']:.0f}  "
            f"max in flight {last['max_in_flight']:.0f}  TCP connections {last['connections']:.0f}"
        )


if __name__ == "__main__":
    main()
