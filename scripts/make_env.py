"""Write a `.env` for local development: DEBUG on, a fresh secret key, a local admin password,
and Spotify enrichment off (there are no credentials yet), so that Sync Now works at once.

`python scripts/make_env.py [TARGET]` (default: `.env` at the project root). An existing file is
never overwritten: it may hold real credentials.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".env.example"
WROTE = "Wrote {target} for local development (staff login: {username} / {password})."
KEPT = "{target} exists: left as it is."


def env_text(example: str, values: dict[str, str]) -> str:
    """`example` with the `NAME=` lines of `values` filled in (comments and the rest kept)."""
    lines = []
    for line in example.splitlines():
        name = line.split("=", 1)[0].strip()
        if name in values and "=" in line and not line.lstrip().startswith("#"):
            line = f"{name}={values[name]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def env_value(text: str, name: str) -> str:
    """The value of the uncommented `name=` line in `text`, or ""."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name and not line.lstrip().startswith("#"):
            return value.strip()
    return ""


def write_env(target: Path, *, example: Path = EXAMPLE) -> dict[str, str] | None:
    """Write `target` from `example` with DEBUG on, a secret key, an admin password and Spotify
    off; return the values written, or None (writing nothing) when `target` already exists."""
    values = {
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "SPOTIFY_ENABLED": "0",
    }
    try:
        # "x": fails if the file exists, even if it appeared a moment ago.
        with target.open("x", encoding="utf-8") as env_file:
            env_file.write(env_text(example.read_text(encoding="utf-8"), values))
    except FileExistsError:
        return None
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a .env for local development.")
    parser.add_argument("target", nargs="?", type=Path, default=ROOT / ".env")
    target: Path = parser.parse_args(argv).target
    values = write_env(target)
    if values is None:
        print(KEPT.format(target=target))
        return 0
    username = env_value(target.read_text(encoding="utf-8"), "DJANGO_ADMIN_USERNAME") or "admin"
    password = values["DJANGO_ADMIN_PASSWORD"]
    print(WROTE.format(target=target, username=username, password=password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
