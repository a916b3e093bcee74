from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "Album catalog"

    def ready(self) -> None:
        from catalog import checks  # noqa: F401  (registers the system checks)
