"""Building the worker's limits engine from settings, the registered strategies and the models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_core.limits.admission import LimitsEngine
from gateway_core.limits.backend import LimitBackend
from gateway_core.limits.engine import StrategyLimitsEngine
from gateway_core.limits.memory import InProcessLimits
from gateway_core.limits.redis_backend import RedisLimits
from gateway_core.limits.rules import resolve_rules
from gateway_core.shared import SharedState
from gateway_core.shared.redis_backend import redis_client

if TYPE_CHECKING:
    from gateway_core.config import Settings
    from gateway_core.plugins import Registries
    from gateway_core.routing.table import ModelSpec


def build_limits(
    settings: Settings,
    registries: Registries,
    models: list[ModelSpec],
    shared: SharedState,
) -> LimitsEngine:
    """The engine for these settings; the inert base engine when no rule can ever apply.

    Counters live in Redis when shared state does, else in this process. Raises
    ``ConfigError`` for rules that name unknown strategies, models or options.
    """
    rules = resolve_rules(settings, registries)
    if not rules:
        return LimitsEngine()
    backend: LimitBackend = (
        # A pool of its own: admissions neither wait behind nor crowd out pub/sub and pings.
        RedisLimits(redis_client(settings.redis), owns_client=True)
        if shared.distributed and settings.redis.enabled
        else InProcessLimits()
    )
    by_name = {model.name: model for model in models}
    plans: dict[str, tuple[str, ...]] = {}
    for model in models:
        names = [
            model.name,
            *model.fallbacks,
            *model.context_window_fallbacks,
            *model.content_policy_fallbacks,
        ]
        plans[model.name] = tuple(
            spec.id
            for name in dict.fromkeys(names)
            if name in by_name
            for spec in by_name[name].deployments
        )
    return StrategyLimitsEngine(
        settings.limits,
        rules,
        backend,
        models=plans,
        prices={spec.id: spec.price for model in models for spec in model.deployments},
        deployment_models={spec.id: model.name for model in models for spec in model.deployments},
        workers=settings.server.workers,
    )
