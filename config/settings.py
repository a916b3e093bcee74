"""Settings, read from the environment (and from `.env` when present). See `.env.example`."""

import os
from pathlib import Path
from typing import Any

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
    "template_partials.apps.SimpleAppConfig",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Sessions stay in the database (Django's default). A cached_db engine would save a logged-in
# status poll its session SELECT, but without a shared cache (none is configured) a session
# deleted at logout would stay usable in the other worker processes' caches.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"catalog": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")}},
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
# Where a web-started sync runs (docs/architecture.md, "The runner"): a daemon thread in the web
# process by default; a task-queue runner (any class whose `submit(operation_id)` arranges a call to
# `catalog.services.sync.run_operation(operation_id)`) can replace it without touching the views.
SYNC_RUNNER = "catalog.services.sync.ThreadRunner"
