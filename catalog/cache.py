"""A per-process memory cache bounded in bytes, not only in entries.

Django's LocMemCache (the library's: storage, expiry, locking, pickling) counts entries: with its
1,000 entries a worker could hold 1,000 calendars of 1.4 MB each, and anyone can make new entries
by adding a query parameter. Ours: each stored value's pickled size is counted, and when the
total passes `OPTIONS["MAX_BYTES"]` the least recently used entries are dropped until it fits.
A value larger than the whole budget is not stored at all.

It overrides LocMemCache's internal `_set`, `_delete`, `_cull` and `clear`, where every entry
enters and leaves its store; tests/test_cache.py pins the behaviour so a Django upgrade that
changes them fails there, not in production.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

from django.core.cache.backends.locmem import LocMemCache

# Like LocMemCache's stores: one per cache name, shared by the per-thread backend instances
# (caches[...] gives each thread its own instance), always used under the store's lock.
_sizes: dict[str, dict[str, int]] = {}
_totals: dict[str, list[int]] = {}

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ByteBoundedLocMemCache(LocMemCache):
    """LocMemCache whose pickled values add up to at most `OPTIONS["MAX_BYTES"]` bytes."""

    # LocMemCache's own attributes, which the type stubs leave out.
    _cache: OrderedDict[str, bytes]
    _expire_info: dict[str, float | None]
    _lock: Lock
    _cull_frequency: int

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        options = params.get("OPTIONS") or {}
        self.max_bytes = int(options.get("MAX_BYTES", DEFAULT_MAX_BYTES))
        self._sizes = _sizes.setdefault(name, {})
        self._total = _totals.setdefault(name, [0])  # a list: shared and mutable

    @property
    def total_bytes(self) -> int:
        """The pickled size of everything stored now."""
        return self._total[0]

    def _set(self, key: str, value: Any, timeout: Any = None) -> None:  # type: ignore[override]
        size = len(value)
        self._delete(key)
        if size > self.max_bytes:
            return
        while self._cache and self._total[0] + size > self.max_bytes:
            self._pop_oldest()
        super()._set(key, value, timeout)  # type: ignore[misc]
        self._sizes[key] = size
        self._total[0] += size

    def _pop_oldest(self) -> None:
        # Entries are kept most recent first (LocMemCache moves a read or written key to the
        # front), so the last one is the least recently used.
        key, _ = self._cache.popitem()
        self._expire_info.pop(key, None)
        self._total[0] -= self._sizes.pop(key, 0)

    def _cull(self) -> None:
        if self._cull_frequency == 0:
            self._clear_store()
            return
        for _ in range(len(self._cache) // self._cull_frequency):
            self._pop_oldest()

    def _delete(self, key: str) -> bool:
        self._total[0] -= self._sizes.pop(key, 0)
        return super()._delete(key)  # type: ignore[misc]

    def _clear_store(self) -> None:
        self._cache.clear()
        self._expire_info.clear()
        self._sizes.clear()
        self._total[0] = 0

    def clear(self) -> None:
        with self._lock:
            self._clear_store()
