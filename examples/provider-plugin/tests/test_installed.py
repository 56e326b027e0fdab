"""The installed package offers the plugin where the gateway looks for plugins."""

from __future__ import annotations

from gateway_acme import AcmeAdapter

from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"


def test_the_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["acme"]
    assert entry.value == "gateway_acme"
    assert entry.dist is not None and entry.dist.name == "gateway-acme"
    assert entry.load().AcmeAdapter is AcmeAdapter


def test_enabling_the_plugin_registers_its_provider() -> None:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "plugins": ["acme"]})
    plugins = build_plugins(settings)
    assert plugins.registries.providers.get("acme") is AcmeAdapter
    acme = next(info for info in plugins.describe() if info.name == "acme")
    assert (acme.origin, acme.registered) == ("gateway-acme", {"providers": ["acme"]})


def test_an_installed_plugin_does_nothing_until_enabled() -> None:
    plugins = build_plugins(settings_from_mapping({"auth": {"master_key": MASTER_KEY}}))
    assert "acme" not in plugins.registries.providers
