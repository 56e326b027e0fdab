"""Routing strategies: how a model's deployments are ordered for one request."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import ProviderCall
from gateway_core.builtins.routing_strategies import (
    LeastInFlightStrategy,
    LowestLatencyStrategy,
    PriorityStrategy,
    WeightedStrategy,
)

CALL = ProviderCall("chat", {}, b"", "m", False, "req")
STREAM_CALL = ProviderCall("chat", {}, b"", "m", True, "req")


def deployment(index: int, **attributes) -> SimpleNamespace:
    defaults = {
        "id": f"d{index}",
        "index": index,
        "weight": 1.0,
        "priority": index,
        "in_flight": 0,
        "latency_ewma": None,
        "ttft_ewma": None,
    }
    return SimpleNamespace(**{**defaults, **attributes})


@settings(max_examples=25, deadline=None)
@given(weights=st.lists(st.integers(1, 20), min_size=2, max_size=5), seed=st.integers(0, 2**32))
def test_weighted_first_choice_converges_to_the_weights(weights: list[int], seed: int) -> None:
    random.seed(seed)
    pool = [deployment(i, weight=float(w)) for i, w in enumerate(weights)]
    strategy, draws = WeightedStrategy(None), 20_000
    firsts = Counter(strategy.order(pool, CALL)[0].id for _ in range(draws))
    total = sum(weights)
    for i, weight in enumerate(weights):
        assert firsts[f"d{i}"] / draws == pytest.approx(weight / total, abs=0.02)


@given(weights=st.lists(st.floats(0, 10), min_size=1, max_size=6).filter(lambda w: max(w) > 0))
def test_weighted_order_is_a_permutation_with_standbys_last(weights: list[float]) -> None:
    pool = [deployment(i, weight=w) for i, w in enumerate(weights)]
    ordered = WeightedStrategy(None).order(pool, CALL)
    assert sorted(d.id for d in ordered) == sorted(d.id for d in pool)
    seen_standby = False
    for candidate in ordered:
        if candidate.weight == 0:
            seen_standby = True
        else:
            assert not seen_standby, "a weighted deployment came after a standby"


def test_least_in_flight_prefers_the_idlest() -> None:
    pool = [deployment(0, in_flight=4), deployment(1, in_flight=1), deployment(2, in_flight=2)]
    assert [d.id for d in LeastInFlightStrategy(None).order(pool, CALL)] == ["d1", "d2", "d0"]


def test_lowest_latency_measures_everyone_then_prefers_the_fastest() -> None:
    pool = [
        deployment(0, latency_ewma=0.5, ttft_ewma=0.05),
        deployment(1, latency_ewma=0.2, ttft_ewma=0.30),
        deployment(2),
    ]
    strategy = LowestLatencyStrategy(None)
    assert [d.id for d in strategy.order(pool, CALL)] == ["d2", "d1", "d0"]
    assert [d.id for d in strategy.order(pool, STREAM_CALL)] == ["d2", "d0", "d1"]


def test_priority_is_ordered_failover() -> None:
    pool = [deployment(0, priority=5), deployment(1, priority=1), deployment(2, priority=1)]
    assert [d.id for d in PriorityStrategy(None).order(pool, CALL)] == ["d1", "d2", "d0"]
