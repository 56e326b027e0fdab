"""Short-lived access tokens for upstream auth, cached per worker and refreshed ahead of expiry.

Providers that sign requests with bearer tokens from an identity service (Entra ID, Google OAuth)
need the same three things: never two fetches at once however many requests wait, a refresh
that starts before the token expires so that requests rarely wait on the identity service, and
a still-valid token kept in use when a refresh fails. A plugin supplies only the fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass

import httpx

#: Start refreshing this long before expiry (or at half the lifetime, for short-lived tokens).
REFRESH_AHEAD = 300.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token as an identity service issued it: the value and its lifetime in seconds."""

    value: str
    expires_in: float

    def __repr__(self) -> str:
        return f"AccessToken(value=<hidden>, expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class _Held:
    value: str
    refresh_at: float
    expires_at: float


class TokenCache:
    """One token, fetched on first use and refreshed ahead of expiry, one fetch at a time.

    ``fetch`` asks the identity service for a new token and raises a
    :class:`~gateway_core.errors.GatewayError` when it cannot. Lifetimes are counted from the
    moment the fetch started, so network time never makes a token look younger than it is.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_ahead: float = REFRESH_AHEAD,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._refresh_ahead = refresh_ahead
        self._held: _Held | None = None
        self._lock = asyncio.Lock()
        self._attempts = 0
        self._failure: BaseException | None = None

    async def get(self) -> str:
        held, now = self._held, self._clock()
        if held is not None and now < held.refresh_at:
            return held.value
        if held is not None and now < held.expires_at and self._lock.locked():
            return held.value  # someone is refreshing; this one is still good meanwhile
        attempts_seen = self._attempts
        async with self._lock:
            held, now = self._held, self._clock()
            if held is not None and now < held.refresh_at:
                return held.value
            if self._attempts != attempts_seen and self._failure is not None:
                # A fetch failed while this caller waited: share its outcome, do not repeat it.
                if held is not None and now < held.expires_at:
                    return held.value
                raise self._failure
            return await self._refresh(held)

    async def _refresh(self, held: _Held | None) -> str:
        started = self._clock()
        try:
            token = await self._fetch()
        except Exception as exc:
            self._failure = exc
            if held is not None and self._clock() < held.expires_at:
                return held.value
            raise
        finally:
            self._attempts += 1  # counted when it ends, so that its waiters see it ended
        self._failure = None
        lifetime = max(token.expires_in, 0.0)
        ahead = min(self._refresh_ahead, lifetime / 2)
        self._held = _Held(token.value, started + lifetime - ahead, started + lifetime)
        return token.value


class BearerTokenAuth(httpx.Auth):
    """Sends ``Authorization: Bearer <token>`` with a token from a :class:`TokenCache`.

    Async only: fetching a token is I/O on the worker's event loop.
    """

    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.tokens.get()}"
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("BearerTokenAuth fetches tokens asynchronously; use an async client")
