import re

import pytest
from django.urls import reverse

from catalog.admin import WORKBOOK_OWNED_NOTE
from catalog.models import Album, Artist, Genre, VocalStyle
from tests.support.factories import make_album, make_genre, make_vocal_style

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="admin", password="pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", [Album, Artist, Genre, VocalStyle])
def test_every_catalog_model_has_a_changelist(admin_client, model):
    """Each catalog model is in the admin with a working list page."""
    make_album(genres=[make_genre("Djent")], vocal_style=make_vocal_style("Harsh"))
    url = reverse(f"admin:catalog_{model._meta.model_name}_changelist")

    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize("model", [Album, Artist, Genre, VocalStyle])
def test_every_catalog_model_is_searchable(admin_client, model):
    """The admin list pages accept a search."""
    url = reverse(f"admin:catalog_{model._meta.model_name}_changelist")

    assert admin_client.get(url, {"q": "djent"}).status_code == 200


def test_album_search_finds_by_artist_and_genre_once(admin_client):
    """Searching albums matches artist and genre names, each album listed once."""
    album = make_album(
        title="Hidden Title",
        artist="Leprous",
        genres=[make_genre("Avant Metal"), make_genre("Avant Prog")],
    )
    make_album(title="Other")
    url = reverse("admin:catalog_album_changelist")

    by_artist = admin_client.get(url, {"q": "lepro"})
    by_genre = admin_client.get(url, {"q": "avant"})

    assert list(by_artist.context["cl"].result_list) == [album]
    assert list(by_genre.context["cl"].result_list) == [album]


def test_album_list_filters_by_workbook_presence(admin_client):
    """The album list filters on in_workbook (hidden albums)."""
    make_album(title="Shown")
    hidden = make_album(title="Gone", in_workbook=False)

    response = admin_client.get(
        reverse("admin:catalog_album_changelist"), {"in_workbook__exact": "0"}
    )

    assert list(response.context["cl"].result_list) == [hidden]


def test_album_list_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    """The album changelist selects artist and vocal style with the albums (no N+1)."""
    style = make_vocal_style("Clean")
    for _ in range(30):
        make_album(vocal_style=style)

    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:catalog_album_changelist"))


def test_album_change_form_uses_autocomplete_widgets(admin_client):
    """The add form searches artists and genres instead of listing thousands of options."""
    make_album(genres=[make_genre("Djent")])

    response = admin_client.get(reverse("admin:catalog_album_add"))
    autocompleted = re.findall(
        r'<select name="(\w+)"[^>]*class="admin-autocomplete"', response.content.decode()
    )

    assert autocompleted == ["artist", "genres", "vocal_style"]


def test_genre_list_counts_albums(admin_client):
    """The genre list shows how many albums have each genre."""
    djent = make_genre("Djent")
    make_album(genres=[djent])
    make_album(genres=[djent])

    response = admin_client.get(reverse("admin:catalog_genre_changelist"))

    assert [row.album_count for row in response.context["cl"].result_list] == [2]


def test_album_change_form_keeps_workbook_values_read_only(admin_client):
    """A sync writes the sheet's values back, so the change form does not offer to edit them:
    a posted title is ignored, and the form says where the values come from."""
    album = make_album(title="From the sheet")
    url = reverse("admin:catalog_album_change", args=[album.pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"title": "Edited in the admin"})

    assert WORKBOOK_OWNED_NOTE in page
    assert 'name="title"' not in page
    album.refresh_from_db()
    assert album.title == "From the sheet"


def test_album_change_form_links_to_the_album_on_the_site(admin_client):
    """ "View on site" opens the album's detail page."""
    album = make_album()
    page = admin_client.get(reverse("admin:catalog_album_change", args=[album.pk])).content

    assert 'href="/admin/r/' in page.decode()
    assert album.get_absolute_url() == f"/catalog/albums/{album.pk}/"


def test_login_page_names_the_site_and_links_back_to_the_catalog(client):
    """The admin login carries the catalog's name and a way back to the albums."""
    html = client.get(reverse("admin:login")).content.decode()

    assert "Prog metal catalog administration" in html
    assert 'href="/catalog/albums/"' in html


def test_a_login_without_next_lands_on_the_album_list(settings):
    """LOGIN_REDIRECT_URL (used by Django's auth views) is the catalog, not /accounts/profile/."""
    from django.shortcuts import resolve_url

    assert resolve_url(settings.LOGIN_REDIRECT_URL) == "/catalog/albums/"
