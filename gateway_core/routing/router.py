"""Per-worker routing state: adapters built once, health tracked per deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_core.api import AdapterContext, Identity, ProviderAdapter, RoutingStrategy
from gateway_core.config import RoutingSettings, Timeouts
from gateway_core.errors import ModelNotFound, PermissionDenied
from gateway_core.routing.breaker import CircuitBreaker

if TYPE_CHECKING:
    from gateway_core.http import UpstreamClient
    from gateway_core.routing.table import DeploymentSpec, ModelSpec


class Deployment:
    """One upstream of one model in this worker, with what the router learns about it."""

    __slots__ = (
        "adapter",
        "breaker",
        "failures",
        "id",
        "in_flight",
        "index",
        "latency_ewma",
        "priority",
        "provider",
        "smoothing",
        "successes",
        "timeouts",
        "ttft_ewma",
        "weight",
    )

    def __init__(
        self, spec: DeploymentSpec, adapter: ProviderAdapter, routing: RoutingSettings
    ) -> None:
        self.id = spec.id
        self.index = spec.index
        self.provider = spec.provider.type_name
        self.weight = spec.weight
        self.priority = spec.priority
        self.timeouts: Timeouts = spec.timeouts
        self.adapter = adapter
        self.breaker = CircuitBreaker(routing.circuit_breaker)
        self.smoothing = routing.latency_smoothing
        self.in_flight = 0
        self.successes = 0
        self.failures = 0
        self.latency_ewma: float | None = None
        self.ttft_ewma: float | None = None

    def observe_latency(self, seconds: float) -> None:
        previous = self.latency_ewma
        self.latency_ewma = (
            seconds if previous is None else (previous + self.smoothing * (seconds - previous))
        )

    def observe_ttft(self, seconds: float) -> None:
        previous = self.ttft_ewma
        self.ttft_ewma = (
            seconds if previous is None else (previous + self.smoothing * (seconds - previous))
        )

    def describe(self, now: float) -> dict[str, object]:
        return {
            "id": self.id,
            "provider": self.provider,
            "weight": self.weight,
            "priority": self.priority,
            "state": self.breaker.state.value,
            "retry_in_seconds": round(self.breaker.retry_in(now), 3),
            "times_opened": self.breaker.times_opened,
            "in_flight": self.in_flight,
            "successes": self.successes,
            "failures": self.failures,
            "latency_ms": _ms(self.latency_ewma),
            "ttft_ms": _ms(self.ttft_ewma),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


class ModelRoute:
    """The deployments of one public model, how to order them, and where to fall back."""

    __slots__ = (
        "content_policy_fallbacks",
        "context_window_fallbacks",
        "deployments",
        "fallbacks",
        "max_attempts",
        "name",
        "operations",
        "owned_by",
        "strategy",
    )

    def __init__(
        self, spec: ModelSpec, deployments: list[Deployment], strategy: RoutingStrategy
    ) -> None:
        self.name = spec.name
        self.owned_by = spec.owned_by
        self.deployments = deployments
        #: What at least one deployment can do ("chat", "embeddings", ...).
        self.operations = frozenset().union(*(d.adapter.operations for d in deployments))
        self.strategy = strategy
        self.max_attempts = spec.max_attempts
        self.fallbacks = spec.fallbacks
        self.context_window_fallbacks = spec.context_window_fallbacks
        self.content_policy_fallbacks = spec.content_policy_fallbacks


class Router:
    """Maps public model names to routes; built once per worker from the model table."""

    def __init__(self, routes: dict[str, ModelRoute]) -> None:
        self.routes = routes

    @classmethod
    def build(
        cls, models: list[ModelSpec], http: UpstreamClient, routing: RoutingSettings
    ) -> Router:
        routes: dict[str, ModelRoute] = {}
        for model in models:
            deployments = [
                Deployment(
                    spec,
                    spec.provider(
                        spec.config, AdapterContext(spec.id, model.name, http, spec.timeouts)
                    ),
                    routing,
                )
                for spec in model.deployments
            ]
            strategy = model.strategy(model.strategy_config)
            routes[model.name] = ModelRoute(model, deployments, strategy)
        return cls(routes)

    def resolve(self, model: str, identity: Identity) -> ModelRoute:
        route = self.routes.get(model)
        if route is None:
            raise ModelNotFound(
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
            )
        if not identity.may_use(model):
            raise PermissionDenied(
                f"This API key may not use the model '{model}'.",
                param="model",
                code="model_not_allowed",
            )
        return route

    async def close(self) -> None:
        for route in self.routes.values():
            for deployment in route.deployments:
                await deployment.adapter.close()
