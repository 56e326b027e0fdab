"""gateway-acme: the Acme text-generation API as a gateway provider (``provider: acme``).

The entry point names this module; the gateway calls its hook implementations at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_acme.adapter import AcmeAdapter, AcmeConfig
from gateway_core import hookimpl

if TYPE_CHECKING:
    from gateway_core.api import ProviderAdapter
    from gateway_core.registry import Registry

__all__ = ["AcmeAdapter", "AcmeConfig"]


@hookimpl
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    providers.add(AcmeAdapter)
