from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalog:album-list", permanent=False)),
    path("catalog/", include("catalog.urls")),
    path("admin/", admin.site.urls),
]
