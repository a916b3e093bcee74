"""One racer of the race test: an OS process that POSTs the sync trigger when released.

    python -S tests/support/e2e/trigger_client.py --url URL --session ID --csrf TOKEN \
        --ready FILE --go FILE [--timeout SECONDS]

Touches `--ready` once it is set up, waits (up to `--timeout` s) for `--go` to exist, sends one
staff trigger POST (session cookie + CSRF cookie and header, as htmx sends it) and prints the
status code and the start of the body as JSON; the answer too may take up to `--timeout` s.
Only the standard library, so that twenty of these start quickly.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from urllib.parse import urlsplit

TRIGGER_PATH = "/catalog/sync/trigger/"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--csrf", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--go", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    target = urlsplit(args.url)
    headers = {
        "Cookie": f"sessionid={args.session}; csrftoken={args.csrf}",
        "X-CSRFToken": args.csrf,
        "HX-Request": "true",
        "Content-Length": "0",
    }
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=args.timeout)
    with open(args.ready, "w"):
        pass
    deadline = time.monotonic() + args.timeout
    while not os.path.exists(args.go):
        if time.monotonic() > deadline:
            sys.exit("never released")
        time.sleep(0.002)
    released = time.monotonic()
    connection.request("POST", TRIGGER_PATH, headers=headers)
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    seconds = time.monotonic() - released
    print(json.dumps({"status": response.status, "body": body[:2000], "seconds": seconds}))


if __name__ == "__main__":
    main()
