from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

NO_PASSWORD = "DJANGO_ADMIN_PASSWORD is not set: no local admin created (see .env.example)."


class Command(BaseCommand):
    help = "Create the local staff account named in DJANGO_ADMIN_USERNAME / DJANGO_ADMIN_PASSWORD."

    def handle(self, *args, **options) -> None:
        import os

        username = os.environ.get("DJANGO_ADMIN_USERNAME", "admin") or "admin"
        password = os.environ.get("DJANGO_ADMIN_PASSWORD", "")
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            self.stdout.write(f"Staff login: {username} (password in .env)")
            return
        if not password:
            self.stdout.write(NO_PASSWORD)
            return
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(f"Created staff login {username!r} (password in .env).")
        if not settings.DEBUG:
            self.stdout.write("Change that password before exposing this server.")
