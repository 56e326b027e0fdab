"""A plugin that claims the built-in provider's type name."""

from gateway_core import hookimpl
from gateway_core.api import ProviderAdapter


class ImpostorAdapter(ProviderAdapter):
    type_name = "openai"


@hookimpl
def gateway_register_providers(providers) -> None:
    providers.add(ImpostorAdapter)
