"""`python manage.py ensure_admin`: the local staff account from DJANGO_ADMIN_USERNAME and
DJANGO_ADMIN_PASSWORD (`make run` calls it), so Sync Now can be used without further setup."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

DEFAULT_USERNAME = "admin"
NO_PASSWORD = "DJANGO_ADMIN_PASSWORD is not set: no local admin created (see .env.example)."
EXISTS = "Staff login: {username} (password in .env)"
CREATED = "Created staff login {username!r} (password in .env)."
CHANGE_PASSWORD = "Change that password before exposing this server."
WEAK_PASSWORD = "DJANGO_ADMIN_PASSWORD is too weak: {reasons} No staff login created."
WEAK_PASSWORD_DEBUG = "Warning: DJANGO_ADMIN_PASSWORD is weak ({reasons}). Fine for local use only."


class Command(BaseCommand):
    help = "Create the local staff account named in DJANGO_ADMIN_USERNAME / DJANGO_ADMIN_PASSWORD."

    def handle(self, *args: Any, **options: Any) -> None:
        # The environment, not settings: these are read by this command only (.env is loaded
        # into the environment by the settings module).
        username = os.environ.get("DJANGO_ADMIN_USERNAME", "") or DEFAULT_USERNAME
        password = os.environ.get("DJANGO_ADMIN_PASSWORD", "")
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            self.stdout.write(EXISTS.format(username=username))
            return
        if not password:
            self.stdout.write(NO_PASSWORD)
            return
        user = user_model(username=username)
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            reasons = " ".join(error.messages)
            # Outside debug the login guards a public server: refuse rather than warn.
            if not settings.DEBUG:
                raise CommandError(WEAK_PASSWORD.format(reasons=reasons)) from None
            self.stdout.write(WEAK_PASSWORD_DEBUG.format(reasons=reasons))
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(CREATED.format(username=username))
        if not settings.DEBUG:
            self.stdout.write(CHANGE_PASSWORD)
