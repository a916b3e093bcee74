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
