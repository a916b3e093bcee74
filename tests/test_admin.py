import re

import pytest
from django.urls import reverse

from catalog.models import Album, Artist, Genre, VocalStyle
from tests.factories import make_album, make_genre, make_vocal_style

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
    """The album form searches artists and genres instead of listing thousands of options."""
    album = make_album(genres=[make_genre("Djent")])

    response = admin_client.get(reverse("admin:catalog_album_change", args=[album.pk]))
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
