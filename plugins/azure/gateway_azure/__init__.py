"""gateway-azure: Azure OpenAI deployments for the gateway (``provider: azure``).

Enable it with ``plugins: [azure]``; the deployment keys are described in the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_azure.adapter import AzureAdapter
from gateway_azure.config import AzureConfig, EntraIdConfig
from gateway_core import hookimpl

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter
    from gateway_core.registry import Registry

__all__ = ["AzureAdapter", "AzureConfig", "EntraIdConfig"]


@hookimpl
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    providers.add(AzureAdapter)
