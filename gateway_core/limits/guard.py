"""Calling a remote limits backend without letting its outage hang or break requests.

Every call gets ``limits.timeout``. After a failure the backend is left alone for a short while
(``RETRY_INTERVAL``): requests meanwhile are answered at once according to
``limits.failure_mode`` instead of each waiting for a timeout, and the first call after the
pause is the reconnection attempt (the Redis client reconnects by itself). Failures are logged
once when they start, then summarised at most every ``LOG_INTERVAL``, and once on recovery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from gateway_core.limits.backend import LimitBackend
from gateway_core.limits.stats import LimitStats

log = logging.getLogger("gateway.limits")

T = TypeVar("T")
RETRY_INTERVAL = 0.5
LOG_INTERVAL = 10.0
BACKEND_ERRORS = (RedisError, OSError, TimeoutError)


class Unavailable(Exception):
    """The backend could not be asked; the caller applies the failure mode."""


class BackendGuard:
    def __init__(
        self,
        backend: LimitBackend,
        *,
        timeout: float,
        fail_open: bool,
        stats: LimitStats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        self.fail_open = fail_open
        self.stats = stats
        self.clock = clock
        self._down_until = 0.0
        self._failures = 0
        self._logged_at = 0.0

    async def call(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` or raise :class:`Unavailable`; in-process backends are called as is."""
        if not self.backend.distributed:
            return await call()
        now = self.clock()
        if now < self._down_until:
            self._failed(operation, None, now)
            raise Unavailable
        try:
            async with asyncio.timeout(self.timeout):
                result = await call()
        except BACKEND_ERRORS as exc:
            self._down_until = self.clock() + RETRY_INTERVAL
            self._failed(operation, exc, now)
            raise Unavailable from exc
        if self._failures:
            log.warning("limits backend reachable again after %d failed operations", self._failures)
            self._failures = 0
        return result

    def _failed(self, operation: str, error: BaseException | None, now: float) -> None:
        self.stats.backend_errors[operation] += 1
        self._failures += 1
        mode = (
            "admitting requests without checking limits"
            if self.fail_open
            else ("refusing requests with 503")
        )
        if self._failures == 1:
            self._logged_at = now
            log.warning(
                "limits backend unavailable (%s during %s): %s until it answers again",
                type(error).__name__ if error is not None else "unknown error",
                operation,
                mode,
            )
        elif now - self._logged_at >= LOG_INTERVAL:
            self._logged_at = now
            log.warning(
                "limits backend still unavailable: %d failed operations so far; %s",
                self._failures,
                mode,
            )
