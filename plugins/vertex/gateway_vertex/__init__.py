"""gateway-vertex: Google Vertex AI (Gemini) deployments for the gateway (``provider: vertex``).

Enable it with ``plugins: [vertex]``; the deployment keys are described in the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_core import hookimpl
from gateway_vertex.adapter import VertexAdapter
from gateway_vertex.config import VertexConfig

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter
    from gateway_core.registry import Registry

__all__ = ["VertexAdapter", "VertexConfig"]


@hookimpl
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    providers.add(VertexAdapter)
