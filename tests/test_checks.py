"""System checks for the catalog's settings (catalog/checks.py)."""

from __future__ import annotations

import pytest
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from catalog.checks import (
    SITE_URL_LOCAL_HINT,
    STALE_TOO_SOON_HINT,
    check_site_url,
    check_sync_timing,
)


def test_default_sync_timing_passes(settings):
    """The defaults (a heartbeat every 5 s, stale after 60 s) raise nothing."""
    settings.SYNC_HEARTBEAT_SECONDS = 5
    settings.SYNC_STALE_AFTER_SECONDS = 60

    assert check_sync_timing() == []


@pytest.mark.parametrize(("heartbeat", "stale"), [(5, 10), (5, 6), (30, 30), (30, 20)])
def test_stale_limit_within_two_heartbeats_is_an_error(settings, heartbeat, stale):
    """SYNC_STALE_AFTER_SECONDS <= 2 x SYNC_HEARTBEAT_SECONDS: catalog.E001, saying both values
    and what to change."""
    settings.SYNC_HEARTBEAT_SECONDS = heartbeat
    settings.SYNC_STALE_AFTER_SECONDS = stale

    (error,) = check_sync_timing()

    assert isinstance(error, Error)
    assert error.id == "catalog.E001"
    assert error.msg == (
        f"SYNC_STALE_AFTER_SECONDS ({stale}) must be more than 2 x SYNC_HEARTBEAT_SECONDS "
        f"({heartbeat}): a live sync would be taken for dead after one or two late heartbeats."
    )
    assert error.hint == STALE_TOO_SOON_HINT


def test_just_over_two_heartbeats_passes(settings):
    """Stale after 11 s with a 5 s heartbeat leaves room for two late heartbeats."""
    settings.SYNC_HEARTBEAT_SECONDS = 5
    settings.SYNC_STALE_AFTER_SECONDS = 11

    assert check_sync_timing() == []


def test_heartbeat_must_be_positive(settings):
    """A heartbeat of 0 s is catalog.E002."""
    settings.SYNC_HEARTBEAT_SECONDS = 0

    assert [error.id for error in check_sync_timing()] == ["catalog.E002"]


def test_check_is_registered_and_stops_manage_py(settings):
    """The check runs with Django's own (the app registers it): `manage.py check` fails."""
    settings.SYNC_HEARTBEAT_SECONDS = 30
    settings.SYNC_STALE_AFTER_SECONDS = 60

    assert "catalog.E001" in [message.id for message in run_checks()]
    with pytest.raises(SystemCheckError, match="SYNC_STALE_AFTER_SECONDS"):
        call_command("check")


@pytest.mark.parametrize(
    "site_url", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:8000"]
)
def test_check_deploy_warns_of_a_local_site_url(settings, site_url):
    settings.SITE_URL = site_url

    (warning,) = check_site_url()

    assert warning.id == "catalog.W001"
    assert warning.hint == SITE_URL_LOCAL_HINT


def test_a_public_site_url_passes(settings):
    settings.SITE_URL = "https://catalog.example.org"

    assert check_site_url() == []
