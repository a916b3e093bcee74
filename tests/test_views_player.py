"""The album page's click-to-load Spotify player, as the server renders it."""

import pytest
from django.urls import reverse

from tests.support.factories import make_album

pytestmark = pytest.mark.django_db

SPOTIFY_ID = "4aawyAB9vmqN3uQ7FjRGTy"


def detail(client, album) -> str:
    return client.get(reverse("catalog:album-detail", args=[album.pk])).content.decode()


def test_album_with_a_spotify_id_offers_the_player_without_loading_it(client):
    """The page carries the player's address for the button; no iframe, so no request to
    Spotify until the visitor asks; the plain Spotify link stays as the fallback."""
    album = make_album(
        spotify_album_id=SPOTIFY_ID, spotify_url=f"https://open.spotify.com/album/{SPOTIFY_ID}"
    )

    html = detail(client, album)

    assert f'data-embed-src="https://open.spotify.com/embed/album/{SPOTIFY_ID}"' in html
    assert "<iframe" not in html
    assert "open.spotify.com/embed" not in html.replace(
        f'data-embed-src="https://open.spotify.com/embed/album/{SPOTIFY_ID}"', ""
    )
    # Hidden until the script shows it: without JavaScript a dead button is never offered.
    assert "data-player-load hidden>" in html
    assert f'href="https://open.spotify.com/album/{SPOTIFY_ID}"' in html
    assert "js/player.js" in html


@pytest.mark.parametrize("spotify_id", [None, "", "short", 'x"onmouseover="alert(1)"xxxx'[:22]])
def test_no_player_without_a_valid_spotify_id(client, spotify_id):
    """No id, or one that is not 22 base-62 characters, gives no player."""
    album = make_album(spotify_album_id=spotify_id)

    html = detail(client, album)

    assert "data-player" not in html
    assert "open.spotify.com/embed" not in html


def test_player_title_is_escaped(client):
    album = make_album(title='"><script>x</script>', spotify_album_id=SPOTIFY_ID)

    html = detail(client, album)

    assert "<script>x</script>" not in html
    assert 'data-embed-title="Spotify player: &quot;&gt;&lt;script&gt;x&lt;/script&gt; by' in html


def test_no_template_syntax_shows(client):
    from tests.test_visible_text import assert_no_template_text

    album = make_album(spotify_album_id=SPOTIFY_ID)
    assert_no_template_text(client.get(reverse("catalog:album-detail", args=[album.pk])))
