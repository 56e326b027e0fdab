"""Properties of the limit counters against a model, on both backends (hypothesis).

* In any sliding window, no more than the limit is admitted, and every request that fits is.
* Reservations and their reconciliations always add up to the real usage.
* A pool (budget, concurrency) admits exactly what fits, and once the spend is past the hard
  limit nothing more is admitted; when no request costs more than it reserved, the spend never
  passes the limit at all.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_core.limits.backend import LimitBackend, Settlement
from tests.limits_support import FakeClock, backend_factory, pool, run_with, total, window

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(params=["in_process", "redis"])
def factory(request):
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    return backend_factory(request.param, url)


@PROPERTY
@given(
    steps=st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 4)), min_size=1, max_size=50),
    limit=st.integers(1, 12),
    span=st.sampled_from([1_000, 10_000, 60_000]),
)
def test_no_sliding_window_ever_holds_more_than_the_limit(factory, steps, limit, span) -> None:
    admitted: list[tuple[int, int]] = []

    async def replay(backend: LimitBackend, clock: FakeClock) -> None:
        for index, (pause, amount) in enumerate(steps):
            clock.advance(pause)
            now = clock()
            in_window = sum(a for at, a in admitted if at > now - span)
            verdict = await backend.admit(f"r{index}", [window("w", limit, amount, span)])
            assert verdict.admitted == (in_window + amount <= limit)
            if verdict.admitted:
                admitted.append((now, amount))
                assert verdict.states[0].remaining == limit - in_window - amount
            elif amount <= limit:
                # The wait it names is exactly when enough of the window has left.
                later = now + verdict.retry_ms
                assert sum(a for at, a in admitted if at > later - span) + amount <= limit

    run_with(factory, replay)
    for end, _ in admitted:
        assert sum(a for at, a in admitted if end - span < at <= end) <= limit


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), st.integers(0, 300), st.integers(0, 600)),
        st.tuples(st.just("settle"), st.integers(0, 1000), st.just(0)),
    ),
    max_size=60,
)


@PROPERTY
@given(ops=OPS, limit=st.integers(0, 3000))
def test_reservations_and_reconciliations_add_up_to_real_usage(factory, ops, limit) -> None:
    outstanding: list[tuple[str, int, int]] = []  # token, reserved, real
    settled_usage = 0

    async def replay(backend: LimitBackend, clock: FakeClock) -> None:
        nonlocal settled_usage
        for index, (op, a, b) in enumerate(ops):
            if op == "admit":
                counted = settled_usage + sum(r for _, r, _ in outstanding)
                verdict = await backend.admit(f"r{index}", [window("tpm", limit, a)])
                assert verdict.admitted == (counted + a <= limit)
                if verdict.admitted:
                    outstanding.append((f"r{index}", a, b))
            elif outstanding:
                token, reserved, real = outstanding.pop(a % len(outstanding))
                check = window("tpm", limit, reserved)
                await backend.settle(token, [Settlement(check, reserved, real)])
                settled_usage += real
            assert await total(backend, "tpm") == settled_usage + sum(r for _, r, _ in outstanding)

    run_with(factory, replay)


@PROPERTY
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["admit", "settle"]), st.integers(0, 400), st.integers(0, 1000)),
        max_size=60,
    ),
    limit=st.integers(0, 2000),
    overrun=st.booleans(),
)
def test_budgets_admit_exactly_what_fits_and_never_past_the_limit(
    factory, ops, limit, overrun
) -> None:
    held: list[tuple[str, int]] = []
    used = 0

    async def replay(backend: LimitBackend, clock: FakeClock) -> None:
        nonlocal used
        for index, (op, amount, pick) in enumerate(ops):
            if op == "admit":
                verdict = await backend.admit(f"r{index}", [pool("budget", limit, amount)])
                assert verdict.admitted == (used + sum(h for _, h in held) + amount <= limit)
                if used > limit:
                    assert not verdict.admitted, "admitted after the hard limit was passed"
                if verdict.admitted:
                    held.append((f"r{index}", amount))
            elif held:
                token, reserved = held.pop(pick % len(held))
                real = pick % (2 * reserved + 1) if overrun else pick % (reserved + 1)
                check = pool("budget", limit, reserved)
                await backend.settle(token, [Settlement(check, reserved, real)])
                used += real
            if not overrun:
                assert used <= limit
            assert await total(backend, "budget") == used + sum(h for _, h in held)

    run_with(factory, replay)
