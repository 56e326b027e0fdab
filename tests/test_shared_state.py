"""One suite, both backends: in-process and a real Redis behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.config import RedisSettings
from gateway_core.shared import InProcessState, RedisState, SharedState


@pytest.fixture(params=["in_process", "redis"])
def make_state(request) -> Callable[[], SharedState]:
    if request.param == "in_process":
        return InProcessState
    url = request.getfixturevalue("redis_server").url
    return lambda: RedisState(RedisSettings(url=url))


def run(make: Callable[[], SharedState], test: Callable[[SharedState], Awaitable[None]]) -> None:
    async def main() -> None:
        state = make()
        await state.start()
        try:
            await test(state)
        finally:
            await state.close()

    asyncio.run(main())


def test_values_expire(make_state) -> None:
    async def check(state: SharedState) -> None:
        assert await state.set("t:expire", "v", 0.2)
        assert await state.get("t:expire") == "v"
        await asyncio.sleep(0.35)
        assert await state.get("t:expire") is None

    run(make_state, check)


def test_only_if_absent_and_take_are_single_use(make_state) -> None:
    async def check(state: SharedState) -> None:
        await state.delete("t:once")
        assert await state.set("t:once", "a", 5, only_if_absent=True)
        assert not await state.set("t:once", "b", 5, only_if_absent=True)
        takers = await asyncio.gather(*(state.take("t:once") for _ in range(10)))
        assert takers.count("a") == 1 and takers.count(None) == 9
        assert await state.get("t:once") is None

    run(make_state, check)


def test_counters_count_and_expire(make_state) -> None:
    async def check(state: SharedState) -> None:
        await state.delete("t:count")
        counts = await asyncio.gather(*(state.incr("t:count", 0.3) for _ in range(25)))
        assert sorted(counts) == list(range(1, 26))
        await asyncio.sleep(0.45)
        assert await state.incr("t:count", 0.3) == 1

    run(make_state, check)


def test_messages_reach_subscribers(make_state) -> None:
    received: list[str] = []

    async def check(state: SharedState) -> None:
        await state.publish("t:channel", "hello")
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.02)
        assert received == ["hello"]

    def make() -> SharedState:
        state = make_state()
        state.subscribe("t:channel", received.append)
        return state

    run(make, check)


@settings(max_examples=30, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["set", "setnx", "take", "incr", "delete"]), st.sampled_from(["a", "b"])
        ),
        max_size=20,
    )
)
def test_in_process_matches_a_plain_model(ops) -> None:
    """Without expiry, the in-process backend is a dictionary with these operations."""
    model: dict[str, str] = {}

    async def main() -> None:
        state = InProcessState()
        for op, key in ops:
            if op == "set":
                assert await state.set(key, "x", 60)
                model[key] = "x"
            elif op == "setnx":
                assert await state.set(key, "y", 60, only_if_absent=True) == (key not in model)
                model.setdefault(key, "y")
            elif op == "take":
                assert await state.take(key) == model.pop(key, None)
            elif op == "incr":
                expected = int(model[key]) + 1 if key in model and model[key].isdigit() else None
                if key in model and expected is None:
                    continue  # counting a non-number is not part of the contract
                assert await state.incr(key, 60) == (expected or 1)
                model[key] = str(expected or 1)
            else:
                await state.delete(key)
                model.pop(key, None)
            assert await state.get(key) == model.get(key)

    asyncio.run(main())
