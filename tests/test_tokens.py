"""The shared token cache: one fetch at a time, refreshed ahead of expiry, never served expired."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.errors import UpstreamError
from gateway_core.tokens import REFRESH_AHEAD, AccessToken, BearerTokenAuth, TokenCache

LIFETIME = 3600.0

steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=2 * LIFETIME, allow_nan=False),  # time passing
        st.integers(min_value=1, max_value=6),  # requests arriving together
        st.booleans(),  # whether the identity service fails this time
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_tokens_are_fetched_once_when_needed_and_never_served_expired(steps) -> None:
    asyncio.run(_play(steps))


async def _play(steps: list[tuple[float, int, bool]]) -> None:
    now = [0.0]
    fetches: list[float] = []
    failing = [False]

    async def fetch() -> AccessToken:
        for _ in range(3):
            await asyncio.sleep(0)  # let the other requests of the step pile up
        fetches.append(now[0])
        if failing[0]:
            raise UpstreamError("the identity service is down")
        return AccessToken(f"t{len(fetches)}", LIFETIME)

    cache = TokenCache(fetch, clock=lambda: now[0])
    held: tuple[str, float, float] | None = None  # value, refresh at, expires at
    for advance, callers, fails in steps:
        now[0] += advance
        failing[0] = fails
        before = len(fetches)
        results = await asyncio.gather(
            *(cache.get() for _ in range(callers)), return_exceptions=True
        )
        made = len(fetches) - before
        fresh = held is not None and now[0] < held[1]
        valid = held is not None and now[0] < held[2]
        if fresh:
            assert made == 0 and results == [held[0]] * callers
            continue
        assert made == 1, "one fetch however many requests wait"
        if fails:
            expected = [held[0]] * callers if valid else None
            if expected is None:
                assert all(isinstance(result, UpstreamError) for result in results)
            else:
                assert results == expected, "a valid token stays in use when a refresh fails"
            continue
        new = f"t{len(fetches)}"
        allowed = {new, held[0]} if valid else {new}
        assert set(results) <= allowed, "nobody gets an expired token"
        held = (new, now[0] + LIFETIME - REFRESH_AHEAD, now[0] + LIFETIME)


def test_short_lived_tokens_refresh_half_way() -> None:
    now = [0.0]
    issued: list[str] = []

    async def fetch() -> AccessToken:
        issued.append(f"t{len(issued) + 1}")
        return AccessToken(issued[-1], 60)

    async def run() -> None:
        cache = TokenCache(fetch, clock=lambda: now[0])
        assert await cache.get() == "t1"
        now[0] = 29.9
        assert await cache.get() == "t1"
        now[0] = 30.0
        assert await cache.get() == "t2"

    asyncio.run(run())


def test_bearer_auth_sets_the_header_and_refuses_sync_clients() -> None:
    async def fetch() -> AccessToken:
        return AccessToken("tok", LIFETIME)

    auth = BearerTokenAuth(TokenCache(fetch))

    async def sign() -> httpx.Request:
        flow = auth.async_auth_flow(httpx.Request("POST", "https://example.test/x"))
        return await flow.__anext__()

    assert asyncio.run(sign()).headers["Authorization"] == "Bearer tok"
    with pytest.raises(RuntimeError, match="asynchronously"):
        next(auth.sync_auth_flow(httpx.Request("GET", "https://example.test/x")))
