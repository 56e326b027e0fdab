"""The circuit breaker state machine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.config import BreakerSettings
from gateway_core.routing.breaker import BreakerState, CircuitBreaker

SETTINGS = BreakerSettings(
    consecutive_failures=3, failure_rate=0.5, window=10, min_requests=4, cooldown=5
)


def test_opens_after_consecutive_failures_and_refuses_until_cooldown() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for second in range(2):
        assert breaker.acquire(second)
        breaker.record_failure(second)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(2)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.available(6.9) and not breaker.acquire(6.9)
    assert breaker.retry_in(6) == 1
    assert breaker.available(7)


def test_half_open_admits_a_single_probe() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(3):
        breaker.record_failure(0)
    assert breaker.acquire(5)
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.acquire(5) and not breaker.available(5)
    breaker.record_success(5.5)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire(5.6) and breaker.acquire(5.6)


def test_failed_probe_opens_again() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(3):
        breaker.record_failure(0)
    assert breaker.acquire(5)
    breaker.record_failure(5)
    assert breaker.state is BreakerState.OPEN and breaker.open_until == 10
    assert breaker.times_opened == 2


def test_a_probe_without_verdict_is_handed_to_the_next_caller() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for _ in range(3):
        breaker.record_failure(0)
    assert breaker.acquire(5)
    breaker.release()
    assert breaker.acquire(5)


def test_failure_rate_over_the_window_opens_without_consecutive_failures() -> None:
    breaker = CircuitBreaker(SETTINGS)
    outcomes = [True, False, True, False, False, True, False]
    for second, ok in enumerate(outcomes):
        (breaker.record_success if ok else breaker.record_failure)(second * 0.5)
        if breaker.state is BreakerState.OPEN:
            break
    # never three failures in a row, but at least half of four or more requests failed
    assert breaker.state is BreakerState.OPEN


def test_old_failures_leave_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    breaker.record_failure(0)
    breaker.record_failure(0.1)
    breaker.record_success(0.2)
    assert breaker.window_counts(0.2) == (1, 2)
    assert breaker.window_counts(30) == (0, 0)
    breaker.record_success(30)
    breaker.record_failure(30.1)
    breaker.record_failure(30.2)
    # Counting the old failures too, 4 of 6 failed (over the rate); within the window only
    # 3 requests were made, below min_requests, and two failures in a row are below three.
    assert breaker.state is BreakerState.CLOSED
    assert breaker.window_counts(30.2) == (1, 2)


def test_retry_after_is_a_cooldown_of_its_own_length() -> None:
    breaker = CircuitBreaker(SETTINGS)
    breaker.record_failure(100, retry_after=42)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in(100) == 42


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=300))
def test_a_broken_deployment_only_gets_half_open_probes(gaps: list[float]) -> None:
    """Every request to a deployment that always fails: after the circuit first opens, it
    receives at most one request per cooldown period (the probes), never more."""
    breaker = CircuitBreaker(SETTINGS)
    now, first_open, admitted_after_open = 0.0, None, 0
    for gap in gaps:
        now += gap
        if not breaker.acquire(now):
            continue
        if first_open is not None:
            admitted_after_open += 1
        breaker.record_failure(now)
        if first_open is None and breaker.state is BreakerState.OPEN:
            first_open = now
    if first_open is not None:
        periods = (now - first_open) / SETTINGS.cooldown
        assert admitted_after_open <= int(periods)
