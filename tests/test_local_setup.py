"""`make run`'s local setup: scripts/make_env.py writes `.env`, `manage.py ensure_admin` creates
the staff login from it."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest
from django.core.management import CommandError, call_command

from catalog.management.commands.ensure_admin import CHANGE_PASSWORD, NO_PASSWORD, WEAK_PASSWORD

ROOT = Path(__file__).resolve().parent.parent


def load_make_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_env", ROOT / "scripts" / "make_env.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_env = load_make_env()


# --- scripts/make_env.py ----------------------------------------------------------------------


def test_make_env_writes_debug_a_secret_key_and_an_admin_password(tmp_path, capsys):
    """A fresh .env: DEBUG on, a long random secret key, an admin password, Spotify off until
    credentials are added, the rest of .env.example kept (comments included); the password is
    printed once for the person."""
    target = tmp_path / ".env"

    assert make_env.main([str(target)]) == 0

    text = target.read_text()
    assert make_env.env_value(text, "DJANGO_DEBUG") == "1"
    assert len(make_env.env_value(text, "DJANGO_SECRET_KEY")) >= 50
    password = make_env.env_value(text, "DJANGO_ADMIN_PASSWORD")
    assert len(password) >= 12
    assert make_env.env_value(text, "DJANGO_ADMIN_USERNAME") == "admin"
    assert make_env.env_value(text, "SPOTIFY_ENABLED") == "0"
    assert "# Spotify (client-credentials app from developer.spotify.com)" in text
    assert f"staff login: admin / {password}" in capsys.readouterr().out


def test_make_env_makes_new_secrets_each_time(tmp_path):
    """Two .env files never share a secret key or a password."""
    first = make_env.write_env(tmp_path / "one.env")
    second = make_env.write_env(tmp_path / "two.env")

    assert first["DJANGO_SECRET_KEY"] != second["DJANGO_SECRET_KEY"]
    assert first["DJANGO_ADMIN_PASSWORD"] != second["DJANGO_ADMIN_PASSWORD"]


def test_make_env_never_overwrites_an_existing_env(tmp_path, capsys):
    """An existing .env (it may hold real credentials) is left byte for byte as it is."""
    target = tmp_path / ".env"
    target.write_text("SPOTIFY_CLIENT_SECRET=real-secret\n")

    assert make_env.main([str(target)]) == 0

    assert target.read_text() == "SPOTIFY_CLIENT_SECRET=real-secret\n"
    assert "left as it is" in capsys.readouterr().out


def test_env_text_fills_only_uncommented_assignments():
    """Only `NAME=` lines are filled; a comment that mentions the name is kept as it is."""
    example = "# DJANGO_DEBUG=0 in production\nDJANGO_DEBUG=0\nOTHER=x\n"

    assert make_env.env_text(example, {"DJANGO_DEBUG": "1"}) == (
        "# DJANGO_DEBUG=0 in production\nDJANGO_DEBUG=1\nOTHER=x\n"
    )


# --- manage.py ensure_admin -------------------------------------------------------------------


def ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_the_staff_superuser_from_the_environment(
    monkeypatch, django_user_model
):
    """DJANGO_ADMIN_USERNAME / DJANGO_ADMIN_PASSWORD: a staff superuser who can log in."""
    monkeypatch.setenv("DJANGO_ADMIN_USERNAME", "curator")
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "s3cret-pass-word")

    out = ensure_admin()

    user = django_user_model.objects.get(username="curator")
    assert user.is_staff and user.is_superuser and user.is_active
    assert user.check_password("s3cret-pass-word")
    assert "Created staff login 'curator'" in out


@pytest.mark.django_db
def test_ensure_admin_is_idempotent(monkeypatch, django_user_model):
    """A second run creates nothing and changes no password (one set by hand stays)."""
    monkeypatch.setenv("DJANGO_ADMIN_USERNAME", "curator")
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "s3cret-pass-word")
    ensure_admin()
    user = django_user_model.objects.get(username="curator")
    user.set_password("changed-by-hand")
    user.save()

    out = ensure_admin()

    assert django_user_model.objects.count() == 1
    assert django_user_model.objects.get(username="curator").check_password("changed-by-hand")
    assert out.strip() == "Staff login: curator (password in .env)"


@pytest.mark.django_db
def test_ensure_admin_without_a_password_creates_nobody(monkeypatch, django_user_model):
    """No DJANGO_ADMIN_PASSWORD: a message saying so, and no user."""
    monkeypatch.delenv("DJANGO_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)

    assert ensure_admin().strip() == NO_PASSWORD
    assert not django_user_model.objects.exists()


@pytest.mark.django_db
def test_ensure_admin_defaults_to_admin_and_warns_outside_debug(
    monkeypatch, settings, django_user_model
):
    """Without a username the login is "admin"; with DEBUG off it says to change the password."""
    settings.DEBUG = False
    monkeypatch.delenv("DJANGO_ADMIN_USERNAME", raising=False)
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "s3cret-pass-word")

    out = ensure_admin()

    assert django_user_model.objects.get().username == "admin"
    assert CHANGE_PASSWORD in out


def test_ensure_admin_refuses_a_weak_password_outside_debug(
    monkeypatch, settings, django_user_model
):
    """With DEBUG off a password Django's validators reject creates no login and fails."""
    settings.DEBUG = False
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "password")

    with pytest.raises(CommandError) as raised:
        ensure_admin()

    assert str(raised.value).startswith(WEAK_PASSWORD.split("{")[0])
    assert "too common" in str(raised.value)
    assert not django_user_model.objects.exists()


def test_ensure_admin_warns_about_a_weak_password_in_debug(
    monkeypatch, settings, django_user_model
):
    """In local development a weak password still creates the login, with a warning."""
    settings.DEBUG = True
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "12345678")

    out = ensure_admin()

    assert "is weak" in out
    assert django_user_model.objects.get().check_password("12345678")
