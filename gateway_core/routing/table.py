"""The validated model table: every deployment checked against its provider's config model.

Built from settings and the registries without opening anything, so that
``gateway config check`` and the server use exactly the same validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway_core.config import (
    ConfigError,
    ModelConfig,
    PriceSettings,
    Settings,
    Timeouts,
)
from gateway_core.usage.pricing import Price, load_builtin_prices, match_model

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter, RoutingStrategy
    from gateway_core.plugins import Registries


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    id: str
    index: int
    provider: type[ProviderAdapter]
    config: Any
    weight: float
    priority: int
    timeouts: Timeouts
    price: Price | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    owned_by: str
    deployments: tuple[DeploymentSpec, ...]
    strategy: type[RoutingStrategy]
    strategy_config: Any
    max_attempts: int
    fallbacks: tuple[str, ...] = ()
    context_window_fallbacks: tuple[str, ...] = ()
    content_policy_fallbacks: tuple[str, ...] = ()


def resolve_models(settings: Settings, registries: Registries) -> list[ModelSpec]:
    """Validate providers, provider keys and strategies; one ConfigError lists every problem."""
    problems: list[str] = []
    models: list[ModelSpec] = []
    seen_ids: set[str] = set()
    _, prices = load_builtin_prices()
    for m_index, model in enumerate(settings.models):
        where = f"models[{m_index}]"
        deployments = _resolve_deployments(
            settings, registries, model, where, seen_ids, problems, prices
        )
        strategy = _resolve_strategy(settings, registries, model, where, problems)
        if strategy is None:
            continue
        strategy_cls, strategy_config = strategy
        models.append(
            ModelSpec(
                name=model.name,
                owned_by=model.owned_by,
                deployments=tuple(deployments),
                strategy=strategy_cls,
                strategy_config=strategy_config,
                max_attempts=model.max_attempts or settings.routing.max_attempts,
                fallbacks=tuple(model.fallbacks),
                context_window_fallbacks=tuple(model.context_window_fallbacks),
                content_policy_fallbacks=tuple(model.content_policy_fallbacks),
            )
        )
    if problems:
        raise ConfigError(problems)
    return models


def _resolve_deployments(
    settings: Settings,
    registries: Registries,
    model: ModelConfig,
    where: str,
    seen_ids: set[str],
    problems: list[str],
    prices: dict[str, Price],
) -> list[DeploymentSpec]:
    specs: list[DeploymentSpec] = []
    for d_index, deployment in enumerate(model.deployments):
        at = f"{where}.deployments[{d_index}]"
        configured = registries.providers.configure(
            deployment.provider,
            deployment.provider_options(),
            source=settings.source,
            type_key=f"{at}.provider",
            options_key=at,
            problems=problems,
            context=f"for model {model.name!r}",
        )
        if configured is None:
            continue
        provider, config = configured
        deployment_id = deployment.id or f"{model.name}/{d_index}"
        if deployment_id in seen_ids:
            problems.append(f"{settings.source}: {at}.id: {deployment_id!r} is used twice")
        seen_ids.add(deployment_id)
        specs.append(
            DeploymentSpec(
                id=deployment_id,
                index=d_index,
                provider=provider,
                config=config,
                weight=deployment.weight,
                priority=d_index if deployment.priority is None else deployment.priority,
                timeouts=deployment.timeouts or settings.upstream_timeouts,
                price=_price_of(deployment.price, config, model.name, prices),
            )
        )
    if specs and all(spec.weight == 0 for spec in specs):
        problems.append(
            f"{settings.source}: {where}.deployments: at least one deployment needs a weight "
            "above 0"
        )
    return specs


def _price_of(
    configured: PriceSettings | None, config: Any, public_name: str, prices: dict[str, Price]
) -> Price | None:
    """The deployment's own price, else the built-in one of its upstream (or public) model."""
    if configured is not None:
        return Price(configured.input, configured.output, configured.cached_input)
    upstream = getattr(config, "model", None)
    found = match_model(upstream, prices) if isinstance(upstream, str) else None
    return found or match_model(public_name, prices)


def _resolve_strategy(
    settings: Settings, registries: Registries, model: ModelConfig, where: str, problems: list[str]
) -> tuple[type[RoutingStrategy], Any] | None:
    return registries.routing_strategies.configure(
        model.strategy or settings.routing.strategy,
        model.strategy_options,
        source=settings.source,
        type_key=f"{where}.strategy" if model.strategy else "routing.strategy",
        options_key=f"{where}.strategy_options",
        problems=problems,
        context=f"for model {model.name!r}",
    )
