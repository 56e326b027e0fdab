"""The installed distribution offers the plugin where the gateway looks for plugins."""

from __future__ import annotations

from gateway_vertex import VertexAdapter

from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"


def test_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["vertex"]
    assert entry.value == "gateway_vertex"
    assert entry.dist is not None and entry.dist.name == "gateway-vertex"
    assert entry.load().VertexAdapter is VertexAdapter


def test_enabled_plugin_registers_the_vertex_provider() -> None:
    plugins = build_plugins(
        settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "plugins": ["vertex"]})
    )
    assert plugins.registries.providers.get("vertex") is VertexAdapter
    vertex = next(info for info in plugins.describe() if info.name == "vertex")
    assert vertex.origin == "gateway-vertex"
    assert vertex.registered == {"providers": ["vertex"]}
    assert "gateway_register_providers" in vertex.hooks


def test_installed_but_not_enabled_plugin_registers_nothing() -> None:
    plugins = build_plugins(settings_from_mapping({"auth": {"master_key": MASTER_KEY}}))
    assert "vertex" not in plugins.registries.providers


def test_the_adapter_serves_chat_and_embeddings() -> None:
    assert VertexAdapter.operations == frozenset({"chat", "embeddings"})
