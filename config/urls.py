from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView

from catalog.admin import throttled_admin_login


class FaviconView(RedirectView):
    """/favicon.ico, which browsers and tools ask for on their own: the site's SVG icon.

    Temporary and cached for a day: the static URL changes with the file's hash.
    """

    permanent = False

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("img/favicon.svg")


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalog:album-list", permanent=False)),
    path("favicon.ico", cache_control(max_age=86_400)(FaviconView.as_view())),
    path("catalog/", include("catalog.urls")),
    # Before the admin's own URLs, so the throttled view answers /admin/login/.
    path("admin/login/", throttled_admin_login, name="admin-login-throttled"),
    path("admin/", admin.site.urls),
]
