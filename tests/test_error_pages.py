"""404 and 500 pages in production wear the site's layout and lead back to the catalog."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_404_page_has_the_site_layout_and_a_way_back(client, settings):
    """A missing album with DEBUG off answers 404 with the header and a link to the catalog."""
    settings.DEBUG = False
    response = client.get("/catalog/albums/999999/")

    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert "Page not found" in html
    assert 'href="/catalog/albums/"' in html


def test_500_page_renders_without_a_request_context(settings):
    """Django's server_error view renders 500.html with no context processors: it still shows
    the site's name and a way back, and needs nothing that could fail in turn."""
    settings.DEBUG = False
    response = server_error(RequestFactory().get("/catalog/albums/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "Prog metal catalog" in html
    assert 'href="/"' in html


# The production settings in a process of their own: nothing from the test settings leaks in.
PRODUCTION_SCRIPT = r"""
import django
django.setup()
from django.conf import settings
# No collectstatic here: plain static storage instead of the manifest the image builds.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
from django.test import Client
from catalog import views
from catalog.services import sync

def broken_view(request):
    raise ZeroDivisionError("the view broke on purpose")

# Before the first request, so the URLconf (imported lazily) picks up the broken view.
views.album_list = broken_view

response = Client(raise_request_exception=False).get("/catalog/albums/")
print("status", response.status_code, flush=True)

def crashing_job(operation_id):
    raise KeyError("the runner broke on purpose")

from django_tasks import task_backends
from catalog.tasks import run_sync

sync.run_operation = crashing_job  # what the sync task runs
run_sync.using(backend="thread").enqueue(41)  # the production settings' in-process backend
task_backends["thread"].join()
"""


def test_production_logs_view_errors_and_runner_crashes_with_tracebacks_to_stderr(tmp_path):
    """With DEBUG off, an exception in a view answers 500 and its traceback reaches stderr
    (the `django.request` logger); a crashed runner job reaches stderr with its traceback too."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / "absent.env"),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-test-only-secret-key-that-is-long-enough-for-django-0123456789",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_SCRIPT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "status 500" in done.stdout
    request_log = done.stderr.split("catalog.tasks.run_sync(41,)")[0]
    assert "ERROR django.request Internal Server Error: /catalog/albums/" in request_log
    assert "Traceback (most recent call last)" in request_log
    assert "ZeroDivisionError: the view broke on purpose" in request_log
    runner_log = done.stderr.split("catalog.tasks.run_sync(41,)")[1]
    assert runner_log.startswith(" crashed")
    assert "KeyError: 'the runner broke on purpose'" in runner_log
