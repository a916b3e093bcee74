from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("albums/", views.album_list, name="album-list"),
    path("albums/<int:pk>/", views.album_detail, name="album-detail"),
    path("artists/<int:pk>/", views.artist_detail, name="artist-detail"),
    path("sync/trigger/", views.sync_trigger, name="sync-trigger"),
    path("sync/status/", views.sync_status, name="sync-status"),
    path("sync/cancel/", views.sync_cancel, name="sync-cancel"),
    path("sync/history/", views.sync_history, name="sync-history"),
    path("sync/history/<int:pk>/notes/", views.sync_notes, name="sync-notes"),
]

urlpatterns += [
    path("upcoming/", views.upcoming, name="upcoming"),
    path("upcoming.ics", views.upcoming_calendar, name="upcoming-ics"),
    path("feed/", views.new_albums_feed, name="feed"),
    path("stats/", views.stats, name="stats"),
]
