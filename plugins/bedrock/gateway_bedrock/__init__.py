"""gateway-bedrock: AWS Bedrock models for the gateway (``provider: bedrock``).

Enable it with ``plugins: [bedrock]``; the deployment keys are described in the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_bedrock.adapter import BedrockAdapter
from gateway_bedrock.config import BedrockConfig
from gateway_core import hookimpl

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter
    from gateway_core.registry import Registry

__all__ = ["BedrockAdapter", "BedrockConfig"]


@hookimpl
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    providers.add(BedrockAdapter)
