"""Settings for the test suite: the real settings, without `.env`, with a fixed test secret."""

import os
import tempfile

os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
# Not the test client's host (testserver): a test can tell an address taken from SITE_URL from
# one taken from the request.
os.environ.setdefault("SITE_URL", "https://progmetal.example")

from config.settings import *  # noqa: E402, F403

# The manifest storage needs `collectstatic`; the tests serve static files as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite logs in from 127.0.0.1 hundreds of times (the browser tests' live server shares the
# throttle's per-process counters across tests): the admin login's throttle would refuse it. Its
# own tests set the rates they check (tests/test_hostile_requests.py).
ADMIN_LOGIN_RATE_PER_ADDRESS = "100000/m"
ADMIN_LOGIN_RATE_PER_USERNAME = "100000/m"
# Static files are served from the app folders in tests; there is no collectstatic output.
WHITENOISE_AUTOREFRESH = True
# Visitors' page cache off unless asked for (the cache tests turn it on; an app server started by
# tests/e2e gets PAGE_CACHE_SECONDS in its environment): most tests change albums without a sync.
if not os.environ.get("PAGE_CACHE_SECONDS"):
    PAGE_CACHE_SECONDS = 0

# django-tasks' own backends for the sync tests: "dummy" keeps what is enqueued and runs nothing
# (a queue with no worker), "immediate" runs it in the caller; "refusing" is a queue that is down.
TASKS = {
    **TASKS,  # noqa: F405
    "dummy": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
    "refusing": {"BACKEND": "tests.support.task_backends.RefusingBackend"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, as `make run` has, not Django's default in-memory test database: that one is
    # shared between threads through SQLite's shared cache, where a write that meets another
    # thread's lock fails at once ("database table is locked") instead of waiting the busy
    # timeout, so a sync thread could crash in a test where it never would in use.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"progmetal-tests-{os.getpid()}.sqlite3")
    }
