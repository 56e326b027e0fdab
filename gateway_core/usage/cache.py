"""A small in-process cache for figures of days that are not finished yet.

Those figures come from raw records on every report; dashboards refreshing every few seconds
would repeat the same scan, so each result is kept for ``ttl`` seconds and then recomputed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    """At most ``size`` entries, each valid for ``ttl`` seconds of ``clock``."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, value = entry
        if self.clock() - stored >= self.ttl:
            del self._entries[key]
            return None
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
