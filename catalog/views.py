from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

# Placeholders until the catalog pages and the Sync Now feature land.


@require_GET
def album_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Album list")


@require_GET
def album_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"Album {pk}")


@require_POST
def sync_trigger(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_GET
def sync_status(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_POST
def sync_cancel(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)


@require_GET
def sync_history(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=501)
