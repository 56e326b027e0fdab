"""Where a deployment's requests go: regional, global or overridden API roots."""

from __future__ import annotations

from gateway_vertex.config import VertexConfig

GLOBAL_ROOT = "https://aiplatform.googleapis.com"


def api_root(config: VertexConfig) -> str:
    """The scheme and host (plus any proxy prefix) that the versioned paths hang from.

    ``global`` has no regional host; every other location has its own
    ``<location>-aiplatform.googleapis.com``. ``endpoint`` replaces both (proxies, private
    service connect, and the loopback server of the tests).
    """
    if config.endpoint is not None:
        return config.endpoint
    if config.location == "global":
        return GLOBAL_ROOT
    return f"https://{config.location}-aiplatform.googleapis.com"


def model_url(config: VertexConfig, method: str) -> str:
    """The URL of ``method`` (``generateContent``, ``predict``...) on the deployment's model."""
    return (
        f"{api_root(config)}/{config.api_version}/projects/{config.project}"
        f"/locations/{config.location}/publishers/google/models/{config.model}:{method}"
    )
