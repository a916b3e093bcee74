"""The page cache's memory is bounded in bytes (catalog/cache.py), whatever the visitors ask for."""

from __future__ import annotations

import pickle

import pytest
from django.core.cache import cache, caches
from django.urls import reverse

from catalog.cache import ByteBoundedLocMemCache
from catalog.page_cache import CACHE_HEADER
from tests.support.factories import make_album

KB = 1024


def bounded(max_bytes: int, *, max_entries: int = 1000) -> ByteBoundedLocMemCache:
    name = f"test-{max_bytes}-{max_entries}"
    store = ByteBoundedLocMemCache(
        name, {"OPTIONS": {"MAX_BYTES": max_bytes, "MAX_ENTRIES": max_entries}}
    )
    store.clear()
    return store


def pickled_size(value: bytes) -> int:
    return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def test_the_least_recently_used_entries_leave_when_the_budget_is_passed():
    store = bounded(100 * KB)
    for n in range(10):
        store.set(f"page-{n}", b"x" * (30 * KB))
        store.get("page-0")  # read again and again: stays

    assert store.total_bytes <= 100 * KB
    assert store.get("page-0") is not None
    assert store.get("page-9") is not None
    assert store.get("page-1") is None


def test_a_value_larger_than_the_budget_is_not_stored():
    store = bounded(10 * KB)
    store.set("small", b"x" * KB)

    store.set("huge", b"x" * (20 * KB))

    assert store.get("huge") is None
    assert store.get("small") is not None


def test_the_count_follows_replacements_deletes_culls_and_clears():
    store = bounded(1000 * KB, max_entries=4)
    store.set("a", b"x" * KB)
    store.set("a", b"x" * (2 * KB))
    assert store.total_bytes == pickled_size(b"x" * (2 * KB))

    store.delete("a")
    assert store.total_bytes == 0

    for n in range(10):  # past MAX_ENTRIES: LocMemCache culls a third at a time
        store.set(f"k{n}", b"x" * KB)
    entry = pickled_size(b"x" * KB)
    assert store.total_bytes % entry == 0
    assert store.total_bytes // entry == len([n for n in range(10) if store.get(f"k{n}")]) <= 4

    store.clear()
    assert store.total_bytes == 0


def test_the_count_is_shared_by_every_thread_of_the_process():
    """Each thread gets its own backend instance (django.core.cache.caches): the store and
    its byte count are the same for all of them."""
    first = bounded(100 * KB)
    second = ByteBoundedLocMemCache("test-102400-1000", {"OPTIONS": {"MAX_BYTES": 100 * KB}})

    first.set("one", b"x" * (60 * KB))
    second.set("two", b"x" * (60 * KB))

    assert first.total_bytes == second.total_bytes <= 100 * KB
    assert first.get("one") is None


@pytest.mark.django_db
def test_a_page_larger_than_the_entry_limit_is_served_but_not_cached(client, settings):
    settings.PAGE_CACHE_SECONDS = 600
    cache.clear()
    make_album()
    url = reverse("catalog:album-list")
    size = len(client.get(url).content)

    settings.PAGE_CACHE_MAX_ENTRY_BYTES = size - 1
    cache.clear()
    answers = [client.get(url) for _ in range(2)]

    assert [answer[CACHE_HEADER] for answer in answers] == ["miss", "miss"]
    settings.PAGE_CACHE_MAX_ENTRY_BYTES = size
    assert [client.get(url)[CACHE_HEADER] for _ in range(2)] == ["miss", "hit"]
    cache.clear()


def test_the_default_cache_is_bounded_in_bytes(settings):
    assert isinstance(caches["default"], ByteBoundedLocMemCache)
    assert settings.CACHES["default"]["OPTIONS"]["MAX_BYTES"] == 64 * 1024 * 1024
