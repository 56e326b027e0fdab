"""Shared state on Redis: one client pool per worker, one pub/sub listener task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gateway_core.config import RedisSettings
from gateway_core.shared.base import SharedState

log = logging.getLogger("gateway.redis")

RECONNECT_DELAY = 0.5
HEARTBEAT_CHANNEL = "gw:heartbeat"
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TIMEOUT = 3.0
# Increment and, for a new counter, set its expiry: atomically, in one round trip.
INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""
SOCKET_TIMEOUT = 2.0


def redis_client(settings: RedisSettings) -> redis.Redis:
    """A connection pool from ``redis.url``, ``redis.db`` and ``redis.pool_size``, with short
    socket timeouts so that no request hangs on an unreachable server."""
    assert settings.url is not None
    options: dict[str, object] = {
        "db": settings.db,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "health_check_interval": 15,
    }
    if settings.pool_size is not None:
        options["max_connections"] = settings.pool_size
    return redis.from_url(settings.url.get_secret_value(), **options)


class RedisState(SharedState):
    distributed = True

    def __init__(self, settings: RedisSettings) -> None:
        super().__init__()
        self.client: redis.Redis = redis_client(settings)
        self._incr_script = self.client.register_script(INCR_WITH_TTL)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        if self._listener is None and self._handlers:
            self._listener = asyncio.create_task(self._listen(), name="gateway-redis-pubsub")
            # Wait briefly so messages published right after start are not missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), SOCKET_TIMEOUT)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.client.aclose()

    async def publish(self, channel: str, message: str) -> None:
        await self.client.publish(channel, message)

    async def ping(self) -> None:
        """After an outage the first command on a pooled connection finds it dead; the pool
        then replaces it, so one failure is retried before readiness is refused."""
        try:
            await self.client.ping()
        except (RedisError, OSError):
            await self.client.ping()

    async def set(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        stored = await self.client.set(key, value, px=_millis(ttl), nx=only_if_absent)
        return bool(stored)

    async def get(self, key: str) -> str | None:
        value = await self.client.get(key)
        return None if value is None else _text(value)

    async def take(self, key: str) -> str | None:
        value = await self.client.getdel(key)
        return None if value is None else _text(value)

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def incr(self, key: str, ttl: float) -> int:
        return int(await self._incr_script(keys=[key], args=[_millis(ttl)]))

    async def _listen(self) -> None:
        """Deliver messages; after any interruption, reset subscribers and reconnect.

        A subscription can also die silently (a server restarted under a connection that the
        client library quietly re-established without our channels). A heartbeat published on
        our own channel every second proves the subscription alive; when it stops arriving,
        the listener starts over as after an error.
        """
        first = True
        heartbeat = f"{HEARTBEAT_CHANNEL}:{os.getpid()}:{id(self)}"
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(heartbeat, *self._handlers)
                if not first:
                    log.info("redis pub/sub reconnected; dropping caches that may be stale")
                    self._reset()
                first = False
                self._subscribed.set()
                await self._receive(pubsub, heartbeat)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the subscription can no longer be trusted
                log.warning("redis pub/sub interrupted (%s); reconnecting", type(exc).__name__)
                self._reset()
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _receive(self, pubsub: PubSub, heartbeat: str) -> None:
        loop = asyncio.get_running_loop()
        last_beat = next_beat = loop.time()
        while True:
            now = loop.time()
            if now >= next_beat:
                await self.client.publish(heartbeat, "beat")
                next_beat = now + HEARTBEAT_INTERVAL
            if now - last_beat > HEARTBEAT_TIMEOUT:
                raise ConnectionError("the pub/sub heartbeat stopped arriving")
            message = await pubsub.get_message(timeout=HEARTBEAT_INTERVAL / 2)
            if message is None or message["type"] != "message":
                continue
            channel = _text(message["channel"])
            if channel == heartbeat:
                last_beat = loop.time()
            else:
                self._deliver(channel, _text(message["data"]))


def _millis(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
