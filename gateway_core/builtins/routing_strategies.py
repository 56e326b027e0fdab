"""Built-in routing strategies: weighted, least in-flight, lowest latency, priority."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway_core import hookimpl
from gateway_core.api import ProviderCall, RoutingStrategy

if TYPE_CHECKING:
    from gateway_core.registry import Registry
    from gateway_core.routing.router import Deployment


class WeightedStrategy(RoutingStrategy):
    """Random order in which each deployment comes first with probability weight / total.

    Sampling without replacement by weight (each deployment gets the key ``u ** (1 / w)`` and
    the keys are sorted) keeps the first choice exactly proportional to the weights, and gives
    a sensible retry order for free. Weight 0 means standby: only tried after the others.
    """

    type_name = "weighted"

    def order(self, deployments: Sequence[Deployment], call: ProviderCall) -> list[Deployment]:
        if len(deployments) == 1:
            return list(deployments)

        def key(deployment: Deployment) -> float:
            if deployment.weight <= 0:
                return -1.0 + random.random() * 1e-9
            return random.random() ** (1.0 / deployment.weight)

        return sorted(deployments, key=key, reverse=True)


class LeastInFlightStrategy(RoutingStrategy):
    """Fewest requests in flight from this worker first; ties broken at random."""

    type_name = "least_inflight"

    def order(self, deployments: Sequence[Deployment], call: ProviderCall) -> list[Deployment]:
        return sorted(deployments, key=lambda d: (d.in_flight, random.random()))


class LowestLatencyStrategy(RoutingStrategy):
    """Lowest moving-average latency first (time to first token for streams).

    Deployments without a sample yet come first, so every one is measured.
    """

    type_name = "lowest_latency"

    def order(self, deployments: Sequence[Deployment], call: ProviderCall) -> list[Deployment]:
        def key(deployment: Deployment) -> tuple[float, float]:
            measured = deployment.ttft_ewma if call.stream else deployment.latency_ewma
            if measured is None:
                measured = deployment.latency_ewma if call.stream else None
            return (-1.0 if measured is None else measured, random.random())

        return sorted(deployments, key=key)


class PriorityStrategy(RoutingStrategy):
    """Ordered failover: the first healthy deployment by ``priority`` (then list order)."""

    type_name = "priority"

    def order(self, deployments: Sequence[Deployment], call: ProviderCall) -> list[Deployment]:
        return sorted(deployments, key=lambda d: (d.priority, d.index))


@hookimpl
def gateway_register_routing_strategies(strategies: Registry[type[RoutingStrategy]]) -> None:
    for strategy in (
        WeightedStrategy,
        LeastInFlightStrategy,
        LowestLatencyStrategy,
        PriorityStrategy,
    ):
        strategies.add(strategy)
