import pytest


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="curator-password", is_staff=True
    )


@pytest.fixture
def spotify_standin(settings):
    """A loopback Spotify (tests/spotify_standin.py) with the SPOTIFY_* settings pointing at it."""
    from tests.spotify_standin import SpotifyStandIn

    with SpotifyStandIn() as standin:
        settings.SPOTIFY_ENABLED = True
        settings.SPOTIFY_CLIENT_ID = standin.client_id
        settings.SPOTIFY_CLIENT_SECRET = standin.client_secret
        settings.SPOTIFY_API_BASE_URL = standin.base_url
        settings.SPOTIFY_TOKEN_URL = standin.token_url
        settings.SPOTIFY_TIMEOUT = 2
        yield standin
