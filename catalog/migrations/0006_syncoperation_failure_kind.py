"""Store why a failed sync failed (`SyncOperation.failure_kind`), and fill it for the rows
written before: until now the panel told an interrupted run by its error text.

The texts below are copies of what catalog/services/sync.py (and the services it quotes) wrote
when this migration was made; they must not follow later edits of those modules. A failed row
whose text matches none of them ended on a workbook error (the only failure left).
"""

from django.db import migrations, models

INTERRUPTED = "Sync interrupted: the server stopped during the sync"
NO_WORKER = (
    "Sync never started: no worker picked it up. Is the task worker (manage.py db_worker) running?"
)
RUNNER_FAILED = "Sync could not be started: the background runner refused the job"
NETWORK_ERROR = "Network error: Unable to reach external services. Please check your connection."
UNEXPECTED_PREFIX = "Sync failed because of an unexpected error ("
# Every message of catalog/services/spotify.py's SpotifyError names Spotify first.
SPOTIFY_PREFIX = "Spotify"


def fill_failure_kind(apps, schema_editor):
    SyncOperation = apps.get_model("catalog", "SyncOperation")
    failed = SyncOperation.objects.filter(status="failed", failure_kind="")
    failed.filter(error=INTERRUPTED).update(failure_kind="interrupted")
    failed.filter(error=NO_WORKER).update(failure_kind="never_started")
    failed.filter(error=RUNNER_FAILED).update(failure_kind="runner_refused")
    failed.filter(error=NETWORK_ERROR).update(failure_kind="network")
    failed.filter(error__startswith=UNEXPECTED_PREFIX).update(failure_kind="unexpected")
    failed.filter(error__startswith=SPOTIFY_PREFIX).update(failure_kind="spotify")
    failed.update(failure_kind="workbook")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_syncoperation_kept_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncoperation",
            name="failure_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("interrupted", "Interrupted"),
                    ("never_started", "Never started"),
                    ("runner_refused", "Runner refused"),
                    ("workbook", "Workbook"),
                    ("spotify", "Spotify"),
                    ("network", "Network"),
                    ("unexpected", "Unexpected error"),
                ],
                default="",
                max_length=20,
            ),
        ),
        # Reversing removes the column: nothing to undo.
        migrations.RunPython(fill_failure_kind, migrations.RunPython.noop),
    ]
