"""The interface of shared state."""

from __future__ import annotations

from collections.abc import Callable

MessageHandler = Callable[[str], None]
ResetHandler = Callable[[], None]


class SharedState:
    """Publish/subscribe between gateway processes (more operations arrive with limits).

    Handlers run on the event loop and must not block. ``on_reset`` handlers run when
    messages may have been missed (a reconnect after an outage): caches should be dropped.
    """

    #: Whether messages reach other processes and instances.
    distributed: bool = False

    def __init__(self) -> None:
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._reset_handlers: list[ResetHandler] = []

    def subscribe(self, channel: str, handler: MessageHandler) -> None:
        self._handlers.setdefault(channel, []).append(handler)

    def on_reset(self, handler: ResetHandler) -> None:
        self._reset_handlers.append(handler)

    def _deliver(self, channel: str, message: str) -> None:
        for handler in self._handlers.get(channel, ()):
            handler(message)

    def _reset(self) -> None:
        for handler in self._reset_handlers:
            handler()

    async def start(self) -> None:
        """Open connections and start listening (called once per worker)."""

    async def close(self) -> None:
        """Stop listening and close connections."""

    async def publish(self, channel: str, message: str) -> None:
        raise NotImplementedError

    async def ping(self) -> None:
        """Raise if the backend cannot be reached (readiness)."""

    # -- short-lived values (sign-in state, revocations, throttling counters) ----------------

    async def set(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        """Store ``value`` for ``ttl`` seconds; with ``only_if_absent``, fail if ``key`` exists.

        Returns whether the value was stored.
        """
        raise NotImplementedError

    async def get(self, key: str) -> str | None:
        raise NotImplementedError

    async def take(self, key: str) -> str | None:
        """Get and delete in one step: of two concurrent callers, at most one gets the value."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        raise NotImplementedError

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter and return it; a new counter expires after ``ttl`` seconds."""
        raise NotImplementedError
