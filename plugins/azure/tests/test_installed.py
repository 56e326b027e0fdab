"""The installed distribution offers the plugin where the gateway looks for plugins."""

from __future__ import annotations

import inspect

from gateway_azure import AzureAdapter

from gateway_core.builtins.openai_provider import OpenAIAdapter
from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"


def test_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["azure"]
    assert entry.value == "gateway_azure"
    assert entry.dist is not None and entry.dist.name == "gateway-azure"
    assert entry.load().AzureAdapter is AzureAdapter


def test_enabled_plugin_registers_the_azure_provider() -> None:
    plugins = build_plugins(
        settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "plugins": ["azure"]})
    )
    assert plugins.registries.providers.get("azure") is AzureAdapter
    azure = next(info for info in plugins.describe() if info.name == "azure")
    assert azure.origin == "gateway-azure"
    assert azure.registered == {"providers": ["azure"]}
    assert "gateway_register_providers" in azure.hooks


def test_installed_but_not_enabled_plugin_registers_nothing() -> None:
    plugins = build_plugins(settings_from_mapping({"auth": {"master_key": MASTER_KEY}}))
    assert "azure" not in plugins.registries.providers


def test_azure_reuses_the_openai_adapter_by_subclassing() -> None:
    assert issubclass(AzureAdapter, OpenAIAdapter)
    own = {name for name, value in vars(AzureAdapter).items() if inspect.isfunction(value)}
    # Only the parent's extension points are overridden; its request path is inherited as is.
    assert own <= {
        "model_name",
        "url_for",
        "build_headers",
        "build_auth",
        "request_body",
        "stream_filter",
        "map_error",
    }
    assert {"chat", "stream_chat", "embeddings"}.isdisjoint(vars(AzureAdapter))
