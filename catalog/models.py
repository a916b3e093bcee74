from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, Q
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

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)

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
