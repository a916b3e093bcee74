from django.conf import settings
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.decorators import ratelimit

from catalog import counts
from catalog.models import Album, Artist, Genre, SyncFailure, SyncOperation, VocalStyle

admin.site.site_header = "Prog metal catalog administration"
admin.site.site_title = "Prog metal catalog"
admin.site.index_title = "Catalog administration"
# "View site" in the admin's header goes to the album list.
admin.site.site_url = "/catalog/albums/"

# The fields each sync writes from the workbook (or from Spotify): an edit in the admin would be
# overwritten, silently, by the next sync, so they are read-only once an album exists. The sheet
# is the place to correct them.
WORKBOOK_FIELDS = (
    "title",
    "artist",
    "release_date",
    "release_date_precision",
    "year",
    "release_list",
    "format",
    "is_debut",
    "is_reissue",
    "country",
    "genres",
    "vocal_style",
    "in_workbook",
    "spotify_album_id",
    "spotify_url",
    "bandcamp_url",
    "youtube_url",
    "apple_music_url",
    "amazon_url",
)
SPOTIFY_FIELDS = (
    "cover_image_url",
    "cover_thumbnail_url",
    "spotify_name",
    "spotify_artist_name",
    "total_tracks",
)
WORKBOOK_OWNED_NOTE = (
    "These values come from the r/progmetal workbook and every sync writes them again: "
    "correct them in the sheet, then sync."
)
SPOTIFY_OWNED_NOTE = "Fetched from Spotify; import_albums --refresh-spotify fetches them again."


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "album_count", "updated_at"]
    search_fields = ["name", "normalized_name"]
    list_filter = ["country"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Artist]:
        return super().get_queryset(request).annotate(album_count=Count("albums"))

    @admin.display(description="Albums", ordering="album_count")
    def album_count(self, obj: Artist) -> int:
        return obj.album_count  # type: ignore[attr-defined]


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "album_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Genre]:
        return super().get_queryset(request).annotate(album_count=Count("albums"))

    @admin.display(description="Albums", ordering="album_count")
    def album_count(self, obj: Genre) -> int:
        return obj.album_count  # type: ignore[attr-defined]


@admin.register(VocalStyle)
class VocalStyleAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "album_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[VocalStyle]:
        return super().get_queryset(request).annotate(album_count=Count("albums"))

    @admin.display(description="Albums", ordering="album_count")
    def album_count(self, obj: VocalStyle) -> int:
        return obj.album_count  # type: ignore[attr-defined]


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "artist",
        "release_date",
        "release_date_precision",
        "release_list",
        "format",
        "is_debut",
        "is_reissue",
        "vocal_style",
        "has_spotify",
        "in_workbook",
    ]
    list_display_links = ["title"]
    list_filter = [
        "in_workbook",
        "release_list",
        "format",
        "is_debut",
        "is_reissue",
        "year",
        "release_date_precision",
        "vocal_style",
        ("spotify_fetched_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["title", "artist__name", "spotify_album_id", "genres__name"]
    list_select_related = ["artist", "vocal_style"]
    # 17,500 albums and ~2,000 genres: search widgets, never a <select> of every row.
    autocomplete_fields = ["artist", "genres", "vocal_style"]
    date_hierarchy = "release_date"
    list_per_page = 50
    # Typed links without a scheme become https:// (Django 6's default, without the warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["spotify_fetched_at", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "description": WORKBOOK_OWNED_NOTE,
                "fields": [
                    "title",
                    "artist",
                    ("release_date", "release_date_precision", "year"),
                    ("release_list", "format"),
                    ("is_debut", "is_reissue"),
                    "country",
                    "genres",
                    "vocal_style",
                    "in_workbook",
                ],
            },
        ),
        (
            "Links",
            {
                "description": WORKBOOK_OWNED_NOTE,
                "fields": [
                    "spotify_album_id",
                    "spotify_url",
                    "bandcamp_url",
                    "youtube_url",
                    "apple_music_url",
                    "amazon_url",
                ],
            },
        ),
        (
            "From Spotify",
            {
                "description": SPOTIFY_OWNED_NOTE,
                "fields": [
                    "cover_image_url",
                    "cover_thumbnail_url",
                    "spotify_name",
                    "spotify_artist_name",
                    "total_tracks",
                    "spotify_fetched_at",
                ],
            },
        ),
        ("Bookkeeping", {"fields": ["identity_key", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Album | None = None) -> list[str]:
        # The import identity is typed once when adding by hand, then only the import sets it;
        # so are the values the workbook and Spotify own.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        return [*fields, "identity_key", *WORKBOOK_FIELDS, *SPOTIFY_FIELDS]

    @admin.display(description="Spotify", boolean=True, ordering="spotify_album_id")
    def has_spotify(self, obj: Album) -> bool:
        return bool(obj.spotify_album_id)


# --- Sync Now: the sync history, read-only ---------------------------------------------


class ReadOnlyAdminMixin:
    """Rows written only by the sync: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SyncFailureInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SyncFailure
    fields = ["label", "reason", "album"]
    readonly_fields = fields
    extra = 0


@admin.register(SyncOperation)
class SyncOperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "status_label",
        "source",
        "triggered_by",
        "started_at",
        "run_time",
        # The panel's words for the counts (catalog/counts.py), not the field names.
        "new",
        "changed",
        "unchanged",
        "removed",
        "failed_count",
    ]
    list_filter = ["status", "failure_kind", "source", "started_at"]
    list_select_related = ["triggered_by"]
    search_fields = ["message", "error", "failures__label"]
    date_hierarchy = "started_at"
    inlines = [SyncFailureInline]
    fieldsets = [
        (None, {"fields": ["status", "source", "triggered_by", "options", "cancel_requested"]}),
        (
            "Progress",
            {"fields": ["stage", "message", "processed", "total", "error", "failure_kind"]},
        ),
        ("Warnings", {"fields": ["spotify_stopped", "warnings"]}),
        (
            "Counts",
            {
                "fields": [
                    "created_count",
                    "updated_count",
                    "unchanged_count",
                    "removed_count",
                    "failed_count",
                    "warnings_count",
                ]
            },
        ),
        ("Times", {"fields": ["started_at", "stage_started_at", "heartbeat_at", "finished_at"]}),
    ]

    @admin.display(description="Status", ordering="status")
    def status_label(self, obj: SyncOperation) -> str:
        return obj.display_status()

    @admin.display(description="Duration")
    def run_time(self, obj: SyncOperation) -> str:
        return counts.format_duration(obj.duration())

    @admin.display(description="New", ordering="created_count")
    def new(self, obj: SyncOperation) -> str:
        return counts.number(obj.created_count)

    @admin.display(description="Changed", ordering="updated_count")
    def changed(self, obj: SyncOperation) -> str:
        return counts.number(obj.updated_count)

    @admin.display(description="Unchanged", ordering="unchanged_count")
    def unchanged(self, obj: SyncOperation) -> str:
        return counts.number(obj.unchanged_count)

    @admin.display(description="Removed", ordering="removed_count")
    def removed(self, obj: SyncOperation) -> str:
        return counts.number(obj.removed_count)


# --- The admin's login, throttled -------------------------------------------------------------
# django-ratelimit counts the POSTs (the library's); which counts and what a refused attempt gets
# are ours. Without a throttle anyone could try passwords as fast as the server hashes them (a
# quarter of a second of CPU each). Two counters: per client address, and per username whatever
# the address. They live in the "ratelimit" cache (settings.CACHES), per process.

LOGIN_THROTTLED = "Too many login attempts. Wait a minute, then try again."
LOGIN_RETRY_AFTER_SECONDS = 60


def client_address(group: str, request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the header the proxy in front sets
    (DJANGO_CLIENT_IP_HEADER, e.g. X-Real-IP, which nginx overwrites) when one is configured."""
    header = settings.CLIENT_IP_HEADER
    if header:
        return request.headers.get(header, "") or request.META.get("REMOTE_ADDR", "")
    return request.META.get("REMOTE_ADDR", "")


@ratelimit(
    group="admin-login-address",
    key=client_address,
    rate=lambda group, request: settings.ADMIN_LOGIN_RATE_PER_ADDRESS,
    method="POST",
    block=False,
)
@ratelimit(
    group="admin-login-username",
    key=lambda group, request: request.POST.get("username", "").strip().lower()[:150],
    rate=lambda group, request: settings.ADMIN_LOGIN_RATE_PER_USERNAME,
    method="POST",
    block=False,
)
def throttled_admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login view, answering 429 (with Retry-After) once an address or a username
    has made too many attempts; GETs are never counted."""
    if getattr(request, "limited", False):
        response = render(request, "429.html", {"message": LOGIN_THROTTLED}, status=429)
        response["Retry-After"] = str(LOGIN_RETRY_AFTER_SECONDS)
        return response
    return admin.site.login(request)
