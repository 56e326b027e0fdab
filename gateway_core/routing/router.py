"""Per-worker routing state: adapters built once, picked per request."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from gateway_core.api import AdapterContext, Identity, ProviderAdapter
from gateway_core.errors import ModelNotFound, PermissionDenied

if TYPE_CHECKING:
    from gateway_core.http import UpstreamClient
    from gateway_core.routing.table import ModelSpec


@dataclass(slots=True)
class Deployment:
    id: str
    provider: str
    weight: float
    adapter: ProviderAdapter


class ModelRoute:
    """The deployments of one public model and the choice between them."""

    __slots__ = ("_cumulative", "_total", "deployments", "name", "owned_by")

    def __init__(self, name: str, owned_by: str, deployments: list[Deployment]) -> None:
        self.name = name
        self.owned_by = owned_by
        self.deployments = deployments
        self._cumulative = list(accumulate(d.weight for d in deployments))
        self._total = self._cumulative[-1]

    def pick(self) -> Deployment:
        """Weighted random choice by ``weight``; a single deployment costs no random draw."""
        if len(self.deployments) == 1:
            return self.deployments[0]
        return random.choices(self.deployments, cum_weights=self._cumulative)[0]


class Router:
    """Maps public model names to routes; built once per worker from the model table."""

    def __init__(self, routes: dict[str, ModelRoute]) -> None:
        self.routes = routes

    @classmethod
    def build(cls, models: list[ModelSpec], http: UpstreamClient) -> Router:
        routes: dict[str, ModelRoute] = {}
        for model in models:
            deployments = [
                Deployment(
                    spec.id,
                    spec.provider.type_name,
                    spec.weight,
                    spec.provider(
                        spec.config,
                        AdapterContext(spec.id, model.name, http, spec.timeouts),
                    ),
                )
                for spec in model.deployments
            ]
            routes[model.name] = ModelRoute(model.name, model.owned_by, deployments)
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
