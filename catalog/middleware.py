"""A page whose database cannot be reached answers 503 Service Unavailable, not 500.

When PostgreSQL restarts or the SQLite file is locked for too long, every view fails with
OperationalError (or InterfaceError on a connection that died). That is no bug of the page: the
answer says the catalog is unavailable for a moment, with Retry-After, so browsers, monitoring
and the panel's poll know to come back; the error is logged as one line, not a traceback.
Exceptions of every other kind still reach Django's 500 handling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (
    "The catalog is unavailable for a moment: its database cannot be reached. "
    "Try again in a minute."
)
RETRY_AFTER_SECONDS = 30


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning(
            "%s %s: database unavailable (%s)",
            request.method,
            request.path,
            type(exception).__name__,
        )
        if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
            response: HttpResponse = JsonResponse({"error": DATABASE_UNAVAILABLE}, status=503)
        else:
            # Rendered without the request: the context processors read the database too.
            page = render_to_string("503.html", {"message": DATABASE_UNAVAILABLE})
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
