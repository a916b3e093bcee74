"""Settings for the benchmark: the production settings with plain static files.

The manifest storage of production needs `collectstatic`; a benchmark has no such output.
"""

import os
import warnings

os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

from config.settings import *  # noqa: E402, F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files are found by the finders, not collected: whitenoise need not warn about it.
warnings.filterwarnings("ignore", message="No directory at")
