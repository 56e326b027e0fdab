"""Shared state within one process."""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway_core.shared.base import SharedState

MAX_VALUES = 1_000_000


class InProcessState(SharedState):
    distributed = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}

    async def publish(self, channel: str, message: str) -> None:
        self._deliver(channel, message)

    def _live(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry[0]

    def _sweep(self) -> None:
        """Drop expired values once the store grows large, so abandoned keys cannot pile up."""
        if len(self._values) < MAX_VALUES:
            return
        now = self._clock()
        for key in [k for k, (_, expiry) in self._values.items() if expiry <= now]:
            del self._values[key]

    async def set(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._sweep()
        self._values[key] = (value, self._clock() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def take(self, key: str) -> str | None:
        value = self._live(key)
        self._values.pop(key, None)
        return value

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str, ttl: float) -> int:
        current = self._live(key)
        if current is None:
            self._sweep()
            self._values[key] = ("1", self._clock() + ttl)
            return 1
        count = int(current) + 1
        self._values[key] = (str(count), self._values[key][1])
        return count
