"""Write a `.env` for local development: DEBUG on, a fresh secret key, a local admin password."""

import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    target = ROOT / ".env"
    if target.exists():
        return
    password = secrets.token_urlsafe(12)
    values = {
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ADMIN_PASSWORD": password,
    }
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0].strip()
        if name in values and not line.lstrip().startswith("#"):
            line = f"{name}={values[name]}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")
    print(f"Wrote .env for local development (staff login: admin / {password}).")


if __name__ == "__main__":
    main()
