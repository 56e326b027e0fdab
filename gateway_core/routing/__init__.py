"""Routing: from a public model name to the deployment that serves this request."""

from gateway_core.routing.router import Deployment, ModelRoute, Router
from gateway_core.routing.table import DeploymentSpec, ModelSpec, resolve_models

__all__ = ["Deployment", "DeploymentSpec", "ModelRoute", "ModelSpec", "Router", "resolve_models"]
