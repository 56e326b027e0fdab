"""The validated model table: every deployment checked against its provider's config model.

Built from settings and the provider registry without opening anything, so that
``gateway config check`` and the server use exactly the same validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gateway_core.config import ConfigError, Settings, Timeouts, describe_validation_error
from gateway_core.registry import RegistryError

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter
    from gateway_core.registry import Registry


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    id: str
    provider: type[ProviderAdapter]
    config: Any
    weight: float
    timeouts: Timeouts


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    owned_by: str
    deployments: tuple[DeploymentSpec, ...]


def resolve_models(
    settings: Settings, providers: Registry[type[ProviderAdapter]]
) -> list[ModelSpec]:
    """Validate each deployment's provider keys; raise one ConfigError listing every problem."""
    problems: list[str] = []
    models: list[ModelSpec] = []
    seen_ids: set[str] = set()
    for m_index, model in enumerate(settings.models):
        specs: list[DeploymentSpec] = []
        for d_index, deployment in enumerate(model.deployments):
            where = f"models[{m_index}].deployments[{d_index}]"
            try:
                provider = providers.get(deployment.provider, where=f"for model {model.name!r}")
            except RegistryError as exc:
                problems.append(f"{settings.source}: {where}.provider: {exc.message}")
                continue
            try:
                config = provider.config_model.model_validate(deployment.provider_options())
            except ValidationError as exc:
                problems += describe_validation_error(exc, settings.source, where)
                continue
            deployment_id = deployment.id or f"{model.name}/{d_index}"
            if deployment_id in seen_ids:
                problems.append(f"{settings.source}: {where}.id: {deployment_id!r} is used twice")
            seen_ids.add(deployment_id)
            timeouts = deployment.timeouts or settings.upstream_timeouts
            specs.append(
                DeploymentSpec(deployment_id, provider, config, deployment.weight, timeouts)
            )
        if specs and all(spec.weight == 0 for spec in specs):
            problems.append(
                f"{settings.source}: models[{m_index}].deployments: at least one deployment "
                "needs a weight above 0"
            )
        models.append(ModelSpec(model.name, model.owned_by, tuple(specs)))
    if problems:
        raise ConfigError(problems)
    return models
