"""The Redis limits backend: every operation is one ``EVALSHA`` of a script in ``scripts.py``.

All counter keys share one hash tag (``{gwlim}`` by default): a request's limits (its key's,
its team's, the global ones) are checked and reserved by one script on one node, which is what
makes them exact across instances, and it is also what Redis Cluster requires of a script's keys.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as redis

from gateway_core.limits import scripts
from gateway_core.limits.backend import (
    Check,
    CounterState,
    Crossing,
    LimitBackend,
    Settlement,
    Verdict,
)
from gateway_core.limits.batching import ScriptBatcher

DEFAULT_PREFIX = "{gwlim}:"


class RedisLimits(LimitBackend):
    """Counters in Redis. ``clock`` (ms) replaces the server's time, for deterministic tests."""

    distributed = True

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], int] | None = None,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        self.prefix = prefix
        self.clock = clock
        self._admit = client.register_script(scripts.ADMIT)
        self._settle = client.register_script(scripts.SETTLE)
        self._renew = client.register_script(scripts.RENEW)
        self._batcher = ScriptBatcher(client)

    async def start(self) -> None:
        """Load the scripts now so the first request's check is a single ``EVALSHA``; if Redis
        is down, the first call after it returns loads them instead."""
        for script in (self._admit, self._settle, self._renew):
            script.sha = await self.client.script_load(script.script)

    async def close(self) -> None:
        await self._batcher.close()
        if self.owns_client:
            await self.client.aclose()

    def _now(self) -> str:
        return "" if self.clock is None else str(self.clock())

    def _keys(self, name: str) -> tuple[str, str]:
        return f"{self.prefix}{name}:z", f"{self.prefix}{name}:t"

    async def admit(self, token: str, checks: list[Check]) -> Verdict:
        keys: list[str] = []
        args: list[str | int] = [token, self._now()]
        for check in checks:
            keys += self._keys(check.name)
            args += [check.kind.value, check.limit, check.amount, check.span_ms, check.ttl_ms]
        reply = await self._batcher.run(self._admit, keys, args)
        if int(reply[0]) == 1:
            values = [int(value) for value in reply[1:]]
            states = tuple(CounterState(values[i], values[i + 1]) for i in range(0, len(values), 2))
            return Verdict(True, states)
        return Verdict(False, refused=int(reply[1]) - 1, used=int(reply[2]), retry_ms=int(reply[3]))

    async def settle(self, token: str, settlements: list[Settlement]) -> list[Crossing]:
        keys: list[str] = []
        args: list[str | int] = [token, self._now()]
        for settlement in settlements:
            check = settlement.check
            keys += self._keys(check.name)
            args += [
                check.kind.value,
                settlement.reserved,
                settlement.final,
                check.span_ms,
                check.ttl_ms,
                check.soft,
            ]
        reply = await self._batcher.run(self._settle, keys, args)
        return [Crossing(int(reply[i]) - 1, int(reply[i + 1])) for i in range(0, len(reply), 2)]

    async def renew(self, holds: list[tuple[str, str]], lease_ms: int) -> None:
        if not holds:
            return
        keys = [self._keys(name)[0] for name, _ in holds]
        await self._batcher.run(self._renew, keys, [lease_ms, self._now(), *(m for _, m in holds)])

    async def total(self, name: str) -> int:
        """What a counter holds right now (for tests and inspection; not atomic)."""
        t = self._keys(name)[1]
        kind = await self.client.type(t)
        if kind in (b"hash", "hash"):
            held, used = await self.client.hmget(t, "held", "used")
            return int(held or 0) + int(used or 0)
        value = await self.client.get(t)
        return int(value or 0)
