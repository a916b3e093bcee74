"""A page whose database cannot be reached answers 503 with Retry-After (catalog/middleware.py)."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.urls import reverse

from catalog import selectors
from catalog.middleware import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_gone(monkeypatch):
    """The list's first catalog read fails as a database that went away does."""

    def unreachable(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(selectors, "album_list", unreachable)


def test_a_page_without_its_database_is_a_503_that_says_so(client, database_gone):
    response = client.get(reverse("catalog:album-list"))

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    html = response.content.decode()
    assert DATABASE_UNAVAILABLE in html
    assert "127.0.0.1" not in html  # the driver's text stays in the log


def test_a_json_client_gets_the_reason_as_json(client, monkeypatch):
    def unreachable(**kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr("catalog.views.load_sync_panel", unreachable)

    response = client.get(reverse("catalog:sync-status"), headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert response.json() == {"error": DATABASE_UNAVAILABLE}


def test_other_errors_still_reach_the_500_handling(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "album_list", broken)

    with pytest.raises(RuntimeError):
        client.get(reverse("catalog:album-list"))
