"""Virtual-key lookups without a database query on the hot path.

A key is hashed once per request (HMAC-SHA256, microseconds) and looked up in an in-process
cache; the database is asked only on a miss, and concurrent misses for the same key share one
query. Revocations and updates are broadcast on the shared state's ``gw:keys`` channel and evict
entries at once; without a distributed backend, entries live one second, which bounds how long
a revoked key keeps working anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway_core.api import Identity
from gateway_core.shared import SharedState
from gateway_core.tenancy.keys import hash_key

CHANNEL = "gw:keys"
NEGATIVE_TTL = 1.0
MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    key_hash: str
    team_id: str | None
    identity: Identity
    expires_at: float | None  # epoch seconds
    revoked: bool


Loader = Callable[[str], Awaitable[KeyRecord | None]]


class KeyCache:
    def __init__(
        self,
        secret: bytes,
        loader: Loader,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret = secret
        self.loader = loader
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[KeyRecord | None, float]] = {}
        self._loading: dict[str, asyncio.Future[KeyRecord | None]] = {}
        # Bumped by every invalidation: a load that raced with one is not cached.
        self._generation = 0

    def hash(self, token: str) -> str:
        return hash_key(self.secret, token)

    async def lookup(self, token: str) -> KeyRecord | None:
        key_hash = self.hash(token)
        entry = self._entries.get(key_hash)
        if entry is not None and entry[1] > self.clock():
            return entry[0]
        pending = self._loading.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[KeyRecord | None] = asyncio.get_running_loop().create_future()
        self._loading[key_hash] = future
        generation = self._generation
        try:
            record = await self.loader(key_hash)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, re-raise it themselves
            raise
        finally:
            self._loading.pop(key_hash, None)
        future.set_result(record)
        if generation == self._generation:
            self._store(key_hash, record)
        return record

    def _store(self, key_hash: str, record: KeyRecord | None) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        ttl = self.ttl if record is not None else min(self.ttl, NEGATIVE_TTL)
        self._entries[key_hash] = (record, self.clock() + ttl)

    # -- invalidation ---------------------------------------------------------------------

    def handle(self, message: str) -> None:
        """Apply a broadcast: ``key:<hash>``, ``team:<id>`` or ``all``."""
        self._generation += 1
        kind, _, value = message.partition(":")
        if kind == "key":
            self._entries.pop(value, None)
        elif kind == "team":
            for key_hash, (record, _) in list(self._entries.items()):
                if record is not None and record.team_id == value:
                    self._entries.pop(key_hash, None)
        else:
            self.clear()

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def attach(self, shared: SharedState) -> None:
        shared.subscribe(CHANNEL, self.handle)
        shared.on_reset(self.clear)


async def broadcast(shared: SharedState, message: str) -> None:
    await shared.publish(CHANNEL, message)
