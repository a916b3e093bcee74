"""Settings, read from the environment (and from `.env` when present). See `.env.example`."""

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
# `.env` is read when present; variables already in the environment win. The tests
# set DJANGO_ENV_FILE to "" so that a developer's `.env` cannot change what they see.
ENV_FILE = os.environ.get("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    load_dotenv(ENV_FILE)


def env_str(name: str, default: str = "") -> str:
    """The variable's value; an empty or unset variable means the default."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(or set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DJANGO_DEBUG-is-on"

# The site's public address: every absolute URL (the feed's links and ids, the calendar's links
# and event UIDs, the webcal link) is built from it, never from the request's Host header, which
# any client sets (docs/architecture.md, "Absolute URLs"). The default is `make run`'s address.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.hostname or _site.query or _site.fragment:
    raise ImproperlyConfigured(
        f"SITE_URL must be the site's address, like https://progmetal.example, got {SITE_URL!r}"
    )

ALLOWED_HOSTS = [
    host.strip()
    for host in env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    # Before django_tasks_db: the first app wins a command name, and catalog's `db_worker`
    # is the library's kept running through a database outage.
    "catalog",
    "django_tasks",
    "django_tasks_db",
    "template_partials.apps.SimpleAppConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "catalog.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.sync_panel",
            ],
            # Partials as a builtin: moving to Django 6's own partials is a settings change.
            "builtins": ["template_partials.templatetags.partials"],
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(
        dj_database_url.parse(
            env_str("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the status poll read while the sync thread writes; the busy timeout
    # makes concurrent writers wait instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "admin:login"
# The admin login's throttle (catalog/admin.py): attempts per client address and per username.
# django-ratelimit's rate syntax: "5/m" is five a minute. The counters are per process: with two
# gunicorn workers a client gets at most twice these.
ADMIN_LOGIN_RATE_PER_ADDRESS = env_str("ADMIN_LOGIN_RATE_PER_ADDRESS", "5/m")
ADMIN_LOGIN_RATE_PER_USERNAME = env_str("ADMIN_LOGIN_RATE_PER_USERNAME", "10/h")
RATELIMIT_USE_CACHE = "ratelimit"
# The request header that carries the client's address when a proxy in front sets it (nginx:
# X-Real-IP). Empty: REMOTE_ADDR. Set it only behind such a proxy: anyone can send the header.
CLIENT_IP_HEADER = env_str("DJANGO_CLIENT_IP_HEADER", "")
# Where a login without `next` lands (Django's default, /accounts/profile/, does not exist here).
LOGIN_REDIRECT_URL = "catalog:album-list"

# Content-Security-Policy (django-csp): scripts and styles from this site's own files only, no
# inline script, no eval (htmx's trigger filters are off for that reason: static/js/sync.js),
# covers from Spotify's image hosts, frames only for Spotify's click-to-load player. Workbook text
# that slipped through escaping could then still run nothing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https://i.scdn.co", "https://*.scdn.co"],
        "frame-src": ["https://open.spotify.com"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# DJANGO_HTTPS=1 behind a TLS-terminating proxy that sets X-Forwarded-Proto: everything
# `manage.py check --deploy` asks for. HSTS_PRELOAD only adds the directive; a domain joins the
# browsers' preload lists by being submitted at hstspreload.org, which stays the operator's choice.
HTTPS = env_bool("DJANGO_HTTPS")
SESSION_COOKIE_SECURE = HTTPS or env_bool("DJANGO_SECURE_COOKIES")

CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
# Sessions stay in the database (Django's default). A cached_db engine would save a logged-in
# status poll its session SELECT, but without a shared cache (the page cache below is
# per-process) a session deleted at logout would stay usable in the other processes' caches.

# Visitors' catalog pages (album list and its fragments, album and artist pages) are cached by
# catalog.page_cache under the catalog version read from the database on every request, so the
# backend need not be shared for correctness: a per-process memory cache is the cheapest hit (no
# query, no file, no pickled copy crossing a socket) and needs nothing to run or clean. Each
# gunicorn worker warms its own copy. docs/architecture.md, "Pages that hold a spike", compares it
# with the database and file caches.
# Memory is bounded in bytes (catalog/cache.py): any visitor can add entries with a new query
# parameter, and one calendar is over a megabyte. The login throttle's counters live in a cache
# of their own, so that flooding the page cache cannot evict them.
CACHES = {
    "default": {
        "BACKEND": "catalog.cache.ByteBoundedLocMemCache",
        "LOCATION": "catalog-pages",
        "OPTIONS": {
            "MAX_ENTRIES": env_int("PAGE_CACHE_MAX_ENTRIES", 1000),
            "MAX_BYTES": env_int("PAGE_CACHE_MAX_BYTES", 64 * 1024 * 1024),
        },
    },
    "ratelimit": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "ratelimit",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}
# A page larger than this is not cached at all (it is rendered for each request).
PAGE_CACHE_MAX_ENTRY_BYTES = env_int("PAGE_CACHE_MAX_ENTRY_BYTES", 4 * 1024 * 1024)
# How long a cached page lives (0 turns the cache off); it bounds how long an admin edit (not a
# sync) takes to reach visitors. While a sync runs the catalog changes batch by batch, so entries
# made then live only PAGE_CACHE_ACTIVE_SECONDS.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 600)
PAGE_CACHE_ACTIVE_SECONDS = env_int("PAGE_CACHE_ACTIVE_SECONDS", 5)

# Everything goes to stderr, where gunicorn, Docker and systemd collect it. `django.request`
# carries the traceback of every unhandled view error (Django's default config only mails it to
# ADMINS when DEBUG is off, and none are set, so it would be lost); the catalog logger carries the
# sync runner's own messages and crashes.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name} {message}", "style": "{"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "catalog": {
            "handlers": ["stderr"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}

# --- The catalog's own settings -------------------------------------------------------------

GOOGLE_SHEETS_XLSX_URL = env_str(
    "GOOGLE_SHEETS_XLSX_URL",
    "https://docs.google.com/spreadsheets/d/"
    "1fQFg52uaojpRCz29EzSHVpsX5SYVJ2VN8IuKs9XA5W8/export?format=xlsx",
)
WORKBOOK_MAX_BYTES = env_int("WORKBOOK_MAX_BYTES", 100 * 1024 * 1024)
WORKBOOK_CONNECT_TIMEOUT = env_int("WORKBOOK_CONNECT_TIMEOUT", 10)
WORKBOOK_READ_TIMEOUT = env_int("WORKBOOK_READ_TIMEOUT", 60)
# The whole download, however the bytes trickle in (the read timeout is per read).
WORKBOOK_DOWNLOAD_TIMEOUT = env_int("WORKBOOK_DOWNLOAD_TIMEOUT", 120)
# What a workbook may unpack to (its XML parts), and the longest cell or shared string (bytes):
# memory and time stay bounded whatever the file holds. The real workbook unpacks to ~3 MB.
WORKBOOK_MAX_UNPACKED_BYTES = env_int("WORKBOOK_MAX_UNPACKED_BYTES", 512 * 1024 * 1024)
WORKBOOK_MAX_CELL_BYTES = env_int("WORKBOOK_MAX_CELL_BYTES", 1024 * 1024)
# Rows read over all release tabs (blank ones too); a real tab has a few thousand.
WORKBOOK_MAX_ROWS = env_int("WORKBOOK_MAX_ROWS", 200_000)
# The 19-tab workbook has some 50,000 distinct texts; each costs openpyxl ~70 bytes in memory.
WORKBOOK_MAX_SHARED_STRINGS = env_int("WORKBOOK_MAX_SHARED_STRINGS", 1_000_000)

SPOTIFY_CLIENT_ID = env_str("SPOTIFY_CLIENT_ID", "")
SPOTIFY_CLIENT_SECRET = env_str("SPOTIFY_CLIENT_SECRET", "")
SPOTIFY_API_BASE_URL = env_str("SPOTIFY_API_BASE_URL", "https://api.spotify.com/v1/")
SPOTIFY_TOKEN_URL = env_str("SPOTIFY_TOKEN_URL", "https://accounts.spotify.com/api/token")
SPOTIFY_CONCURRENCY = env_int("SPOTIFY_CONCURRENCY", 4)
SPOTIFY_MAX_RETRY_AFTER = env_int("SPOTIFY_MAX_RETRY_AFTER", 120)
SPOTIFY_TIMEOUT = env_int("SPOTIFY_TIMEOUT", 10)
# Off switch for enrichment: a sync then imports the sheet only and needs no credentials.
SPOTIFY_ENABLED = env_bool("SPOTIFY_ENABLED", True)

SYNC_STALE_AFTER_SECONDS = env_int("SYNC_STALE_AFTER_SECONDS", 60)
SYNC_HEARTBEAT_SECONDS = env_int("SYNC_HEARTBEAT_SECONDS", 5)
# A sync hides at most this fraction of the visible albums (those that left the workbook) unless
# confirmed (import_albums --allow-removals, or the panel's button): a wrong or damaged
# workbook must not empty the catalog.
SYNC_MAX_HIDE_FRACTION = env_float("SYNC_MAX_HIDE_FRACTION", 0.10)
# How often an open list page asks whether a sync started elsewhere (the shell, another staff
# member): a tiny request, answered 204 while nothing changed, skipped while the tab is hidden.
SYNC_IDLE_CHECK_SECONDS = env_int("SYNC_IDLE_CHECK_SECONDS", 30)
# Where a web-started sync runs (docs/architecture.md, "The runner"): the task
# `catalog.tasks.run_sync` is enqueued on the TASKS backend SYNC_RUNNER names. "thread" (default)
# is the "thread" backend below, a daemon thread in the web process; "tasks" is the "default"
# backend, the queue worked by `manage.py db_worker`; any other value is an alias of TASKS.
SYNC_RUNNER = env_str("SYNC_RUNNER", "thread")

# Django's Tasks framework (the django-tasks backport on 5.2; `django.tasks` on Django 6). TASKS
# holds both sync backends: "default" is a table in the catalog's database (django-tasks-db),
# worked by `manage.py db_worker`, and only SYNC_RUNNER=tasks puts anything in it; "thread" is
# the project's own backend (catalog/task_backends.py), which runs each task in a daemon thread.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    "thread": {
        "BACKEND": "catalog.task_backends.ThreadBackend",
        "OPTIONS": {"THREAD_NAME": "sync-runner"},
    },
}
