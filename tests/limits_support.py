"""Helpers shared by the limits tests: both backends behind one factory, on a fake clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis

from gateway_core.limits.backend import Check, Kind, LimitBackend
from gateway_core.limits.memory import InProcessLimits
from gateway_core.limits.redis_backend import RedisLimits

BackendFactory = Callable[[Callable[[], int]], LimitBackend]


class FakeClock:
    """Milliseconds that only move when a test says so."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def backend_factory(kind: str, redis_url: str | None) -> BackendFactory:
    """``factory(clock)`` makes a fresh backend whose counters no other test sees."""
    if kind == "in_process":
        return lambda clock: InProcessLimits(clock)

    def make(clock: Callable[[], int]) -> LimitBackend:
        client = redis.from_url(redis_url)
        return RedisLimits(client, prefix=f"{{t-{uuid.uuid4().hex[:12]}}}:", clock=clock)

    return make


def run_with(
    factory: BackendFactory,
    test: Callable[[LimitBackend, FakeClock], Awaitable[None]],
    clock: FakeClock | None = None,
) -> None:
    async def main() -> None:
        fake = clock or FakeClock()
        backend = factory(fake)
        await backend.start()
        try:
            await test(backend, fake)
        finally:
            await backend.close()
            if isinstance(backend, RedisLimits):
                await backend.client.aclose()

    asyncio.run(main())


def window(name: str, limit: int, amount: int = 1, span_ms: int = 60_000) -> Check:
    return Check(name, Kind.WINDOW, limit, amount, span_ms, span_ms + 1000)


def pool(name: str, limit: int, amount: int = 1, lease_ms: int = 30_000, soft: int = 0) -> Check:
    return Check(name, Kind.POOL, limit, amount, lease_ms, 86_400_000, soft)


async def total(backend: LimitBackend, name: str) -> int:
    value = backend.total(name)  # type: ignore[attr-defined]
    return await value if asyncio.iscoroutine(value) else value
