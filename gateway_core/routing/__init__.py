"""Routing: from a public model name to the deployment that serves this request."""

from gateway_core.routing.executor import RouteExecutor, Served, StreamLease, StreamStart
from gateway_core.routing.router import Deployment, ModelRoute, Router
from gateway_core.routing.table import DeploymentSpec, ModelSpec, resolve_models

__all__ = [
    "Deployment",
    "DeploymentSpec",
    "ModelRoute",
    "ModelSpec",
    "RouteExecutor",
    "Router",
    "Served",
    "StreamLease",
    "StreamStart",
    "resolve_models",
]
