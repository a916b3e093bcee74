"""Run `manage.py import_albums` in the test process."""

import io

from django.core.management import call_command


def import_albums(*args: str) -> str:
    """Run the command with `args` and return what it printed on stdout."""
    out = io.StringIO()
    call_command("import_albums", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()
