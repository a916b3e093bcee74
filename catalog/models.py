from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, ExpressionWrapper, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from catalog.search import set_search_fields


class Artist(models.Model):
    name = models.CharField(max_length=255)
    # Lower-cased, whitespace-folded name: the identity used when importing.
    normalized_name = models.CharField(max_length=255, unique=True)
    # Folded name for search (catalog/search.py); kept by save() and the importer.
    search_name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    country = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        set_search_fields([self])
        super().save(*args, **kwargs)


class Genre(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    search_name = models.CharField(max_length=120, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        set_search_fields([self])
        super().save(*args, **kwargs)


class VocalStyle(models.Model):
    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Album(models.Model):
    class DatePrecision(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"
        YEAR = "year", "Year"

    class ReleaseList(models.TextChoices):
        PROG_METAL = "prog-metal", "Prog-metal"
        PROG_ROCK = "prog-rock", "Prog-rock"
        REISSUES = "reissues", "Reissues & special releases"

    class Format(models.TextChoices):
        LP = "LP", "LP"
        EP = "EP", "EP"

    title = models.CharField(max_length=500)
    search_title = models.CharField(max_length=500, blank=True, default="", db_index=True)
    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="albums")
    release_date = models.DateField(null=True, blank=True)
    release_date_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    release_list = models.CharField(max_length=20, choices=ReleaseList.choices, blank=True)
    format = models.CharField(max_length=2, choices=Format.choices, blank=True)
    is_debut = models.BooleanField(default=False)
    is_reissue = models.BooleanField(default=False)
    country = models.CharField(max_length=200, blank=True)
    genres = models.ManyToManyField(Genre, related_name="albums", blank=True)
    vocal_style = models.ForeignKey(
        VocalStyle, on_delete=models.SET_NULL, null=True, blank=True, related_name="albums"
    )
    # Import identity when the row has no Spotify link: normalised "artist|title|year".
    identity_key = models.CharField(max_length=800, unique=True)

    spotify_album_id = models.CharField(max_length=22, null=True, blank=True, unique=True)
    spotify_url = models.URLField(max_length=500, blank=True)
    bandcamp_url = models.URLField(max_length=500, blank=True)
    youtube_url = models.URLField(max_length=500, blank=True)
    apple_music_url = models.URLField(max_length=500, blank=True)
    amazon_url = models.URLField(max_length=500, blank=True)

    cover_image_url = models.URLField(max_length=500, blank=True)
    cover_thumbnail_url = models.URLField(max_length=500, blank=True)
    spotify_name = models.CharField(max_length=500, blank=True)
    spotify_artist_name = models.CharField(max_length=500, blank=True)
    total_tracks = models.PositiveSmallIntegerField(null=True, blank=True)
    spotify_fetched_at = models.DateTimeField(null=True, blank=True)

    in_workbook = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-release_date", "-id"]
        indexes = [
            models.Index(fields=["-release_date", "-id"], name="album_newest_idx"),
            models.Index(fields=["in_workbook", "-release_date", "-id"], name="album_visible_idx"),
            models.Index(fields=["in_workbook", "year"], name="album_visible_year_idx"),
            # The feed of new albums and the list's "recently added" order.
            models.Index(fields=["-created_at", "-id"], name="album_added_idx"),
            models.Index(fields=["release_list"], name="album_list_idx"),
            models.Index(fields=["format"], name="album_format_idx"),
            models.Index(fields=["is_debut"], name="album_debut_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.artist} - {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        set_search_fields([self])
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("catalog:album-detail", args=[self.pk])


class SyncOperationQuerySet(models.QuerySet["SyncOperation"]):
    """The sync rows by lifecycle state, and every transition of the lifecycle.

    Each transition is one narrow conditional UPDATE over the row it may move, never a whole
    `save()`: `filter(pk=..., status__in=ACTIVE).update(...)` cannot overwrite a flag another
    request set meanwhile, and matches nothing once the row has left the state the transition
    starts from (it was recovered as stale, say), which is how a run learns it lost the lock.
    Each returns how many rows it moved. The words written on the row (messages, errors) are
    the caller's: catalog/services/sync.py chooses them; this class chooses which rows move.
    The lifecycle is drawn in docs/architecture.md.
    """

    # --- reads -----------------------------------------------------------------------------

    def active(self) -> SyncOperationQuerySet:
        """Pending or running: the rows that hold the lock (one at most, `one_active_sync`)."""
        return self.filter(status__in=SyncOperation.ACTIVE_STATUSES)

    def stale(self, before: datetime) -> SyncOperationQuerySet:
        """Active rows whose last heartbeat is older than `before`: their run is gone."""
        return self.active().filter(heartbeat_at__lt=before)

    def latest_first(self) -> SyncOperationQuerySet:
        return self.order_by("-started_at", "-id")

    def last_completed(self) -> SyncOperationQuerySet:
        """Completed runs (with warnings or not; failed ones do not count), the latest finished
        first: "last synced"."""
        return self.filter(
            status=SyncOperation.Status.COMPLETED, finished_at__isnull=False
        ).order_by("-finished_at")

    def run_state(self, pk: int) -> tuple[bool, bool] | None:
        """(still active, cancel requested) for a running sync's poll; None: the row is gone."""
        row = self.filter(pk=pk).values_list("status", "cancel_requested").first()
        if row is None:
            return None
        return row[0] in SyncOperation.ACTIVE_STATUSES, row[1]

    def cancel_was_requested(self, pk: int) -> bool:
        return self.filter(pk=pk, cancel_requested=True).exists()

    # --- transitions -----------------------------------------------------------------------

    def take_lock(self, **fields: Any) -> SyncOperation:
        """Create the pending row: taking the lock. Raises IntegrityError (`one_active_sync`)
        when another row is active; inside atomic(), so the caller's transaction survives."""
        with transaction.atomic():
            return self.create(status=SyncOperation.Status.PENDING, **fields)

    def claim(self, pk: int, *, now: datetime) -> int:
        """Pending -> running, for the one run that gets there first."""
        return self.filter(pk=pk, status=SyncOperation.Status.PENDING).update(
            status=SyncOperation.Status.RUNNING, heartbeat_at=now, stage_started_at=now
        )

    def update_pending(self, pk: int, **fields: Any) -> int:
        """Write on a row still pending (no run has claimed it)."""
        return self.filter(pk=pk, status=SyncOperation.Status.PENDING).update(**fields)

    def update_active(self, pk: int, **fields: Any) -> int:
        """Write progress or a heartbeat on a row that still holds the lock."""
        return self.filter(pk=pk).active().update(**fields)

    def request_cancel(self, pk: int) -> int:
        """Raise the cancel flag of an active row; its run sees it at its next check."""
        return self.update_active(pk, cancel_requested=True)

    def finish(self, pk: int, *, status: str, failure_kind: str = "", **fields: Any) -> int:
        """Active -> completed, cancelled or failed (with why, `failure_kind`)."""
        if status in SyncOperation.ACTIVE_STATUSES:
            raise ValueError(f"finish() needs a terminal status, not {status!r}")
        return self.update_active(pk, status=status, failure_kind=failure_kind, **fields)

    def refuse(self, pk: int, *, reason: str, now: datetime) -> int:
        """Pending -> failed: the runner would not take the job, so no run ever claims it."""
        return self.update_pending(
            pk,
            status=SyncOperation.Status.FAILED,
            failure_kind=SyncOperation.FailureKind.RUNNER_REFUSED,
            error=reason,
            message=reason,
            finished_at=now,
        )

    def mark_stale(
        self, before: datetime, *, interrupted: str, never_started: str, waiting: str
    ) -> int:
        """Stale rows -> failed, in one UPDATE: a pending row that still says `waiting` (no
        worker claimed it) never started; any other was interrupted. The texts written are
        `never_started` or `interrupted`. `finished_at` becomes the last heartbeat: the moment
        the run was last known to be alive."""
        kinds = SyncOperation.FailureKind
        waited = Q(status=SyncOperation.Status.PENDING, message=waiting)
        reason = Case(When(waited, then=Value(never_started)), default=Value(interrupted))
        kind = Case(When(waited, then=Value(kinds.NEVER_STARTED)), default=Value(kinds.INTERRUPTED))
        return self.stale(before).update(
            status=SyncOperation.Status.FAILED,
            failure_kind=kind,
            error=reason,
            message=reason,
            finished_at=F("heartbeat_at"),
        )


class SyncOperation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        CLI = "cli", "Command line"

    class FailureKind(models.TextChoices):
        """Why a failed run failed; "" for any other run. The panel tells visitors about the
        first two in full (they name nothing private) and shows them as "interrupted"."""

        INTERRUPTED = "interrupted", "Interrupted"  # the server stopped under the run
        NEVER_STARTED = "never_started", "Never started"  # no worker claimed it
        RUNNER_REFUSED = "runner_refused", "Runner refused"
        WORKBOOK = "workbook", "Workbook"
        SPOTIFY = "spotify", "Spotify"
        NETWORK = "network", "Network"
        DATABASE = "database", "Database unavailable"  # the catalog's own database went away
        UNEXPECTED = "unexpected", "Unexpected error"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)
    STOPPED_KINDS = (FailureKind.INTERRUPTED, FailureKind.NEVER_STARTED)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stage = models.CharField(max_length=20, blank=True)
    message = models.CharField(max_length=500, blank=True)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    # Albums no longer in the workbook that the run kept visible: too many to hide unconfirmed
    # (SYNC_MAX_HIDE_FRACTION); a completed run "with warnings".
    kept_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # Notes from the workbook (row-level problems): how many, and the first ones' text.
    warnings_count = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    # Why Spotify enrichment stopped early ("" when it did not): a completed run "with warnings".
    spotify_stopped = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    failure_kind = models.CharField(
        max_length=20, choices=FailureKind.choices, blank=True, default=""
    )
    source = models.CharField(max_length=3, choices=Source.choices, default=Source.WEB)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    options = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    # When the current stage began: the time-left estimate is per stage.
    stage_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    # A manager with every method of the QuerySet. Typed as the QuerySet (which it proxies) for
    # type checkers without the django-stubs mypy plugin, which cannot see through as_manager().
    objects: ClassVar[SyncOperationQuerySet] = SyncOperationQuerySet.as_manager()  # pyright: ignore[reportAssignmentType]

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One active sync (docs/architecture.md): the index holds one row at most, because
            # its key is the same (TRUE) for every active row. A second active insert loses.
            models.UniqueConstraint(
                ExpressionWrapper(
                    Q(status__in=["pending", "running"]), output_field=models.BooleanField()
                ),
                condition=Q(status__in=["pending", "running"]),
                name="one_active_sync",
                violation_error_message="Sync already in progress",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-finished_at"], name="sync_status_idx"),
            models.Index(fields=["-started_at"], name="sync_started_idx"),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} ({self.status})"

    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def was_interrupted(self) -> bool:
        """A failed run that stopped without failing (the server stopped, or it never started):
        the panel's "interrupted"."""
        return self.status == self.Status.FAILED and self.failure_kind in self.STOPPED_KINDS

    def progress_percentage(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.total:
            return 0
        return min(100, round(100 * self.processed / self.total))

    def duration(self) -> timedelta:
        end = self.finished_at or timezone.now()
        return end - self.started_at

    def has_warnings(self) -> bool:
        """A completed run that some albums failed in, whose Spotify enrichment stopped early,
        or that kept albums visible that left the workbook. Notes from the workbook alone do
        not count: the sync did what it could."""
        return self.status == self.Status.COMPLETED and bool(
            self.failed_count or self.spotify_stopped or self.kept_count
        )

    def display_status(self) -> str:
        if self.has_warnings():
            return "Completed with warnings"
        return self.Status(self.status).label


class SyncFailure(models.Model):
    """One album that a sync could not import or enrich, and why."""

    operation = models.ForeignKey(SyncOperation, on_delete=models.CASCADE, related_name="failures")
    album = models.ForeignKey(Album, on_delete=models.SET_NULL, null=True, blank=True)
    label = models.CharField(max_length=600)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"
