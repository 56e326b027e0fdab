"""The installed distribution offers the plugin where the gateway looks for plugins."""

from __future__ import annotations

from gateway_bedrock import BedrockAdapter

from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"


def test_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["bedrock"]
    assert entry.value == "gateway_bedrock"
    assert entry.dist is not None and entry.dist.name == "gateway-bedrock"
    assert entry.load().BedrockAdapter is BedrockAdapter


def test_enabled_plugin_registers_the_bedrock_provider() -> None:
    plugins = build_plugins(
        settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "plugins": ["bedrock"]})
    )
    assert plugins.registries.providers.get("bedrock") is BedrockAdapter
    bedrock = next(info for info in plugins.describe() if info.name == "bedrock")
    assert bedrock.origin == "gateway-bedrock"
    assert bedrock.registered == {"providers": ["bedrock"]}
    assert "gateway_register_providers" in bedrock.hooks


def test_installed_but_not_enabled_plugin_registers_nothing() -> None:
    plugins = build_plugins(settings_from_mapping({"auth": {"master_key": MASTER_KEY}}))
    assert "bedrock" not in plugins.registries.providers


def test_the_adapter_serves_chat_and_embeddings() -> None:
    assert BedrockAdapter.type_name == "bedrock"
    assert BedrockAdapter.operations == {"chat", "embeddings"}
