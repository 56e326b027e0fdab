"""Finding, enabling and introspecting plugins; filling the registries once.

Built-ins and third-party plugins travel the same road: each is a module registered with one
pluggy manager under a name. Built-ins are always available and may be switched off by name;
installed plugins (entry points in the ``gateway_core`` group) are loaded only when the
deployer names them under ``plugins:``. Nothing here runs on the request path.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from gateway_core import PROJECT, __version__, hookspecs
from gateway_core.api import (
    AuthMethod,
    LimitStrategy,
    ProviderAdapter,
    RoutingStrategy,
    UsageSink,
)
from gateway_core.config import ConfigError, Settings, describe_validation_error
from gateway_core.registry import Registry, RegistryError

log = logging.getLogger("gateway.plugins")

#: Built-in plugins: name -> module. Registered by the same manager as installed plugins.
DEFAULT_PLUGINS: dict[str, str] = {
    "openai": "gateway_core.builtins.openai_provider",
    "master_key": "gateway_core.builtins.master_key",
    "virtual_keys": "gateway_core.builtins.virtual_keys",
    "routing": "gateway_core.builtins.routing_strategies",
    "limits": "gateway_core.builtins.limit_strategies",
    "usage_sinks": "gateway_core.builtins.usage_sinks",
    "admin_sessions": "gateway_core.sessions.plugin",
}

ENTRY_POINT_GROUP = PROJECT
TRACE_ENV = "GATEWAY_TRACE_HOOKS"


def distribution_name(plugin: str) -> str:
    """The package a plugin of this name is published as, by the project's convention."""
    return "gateway-" + plugin.replace("_", "-")


def installed_entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@dataclass(slots=True)
class Registries:
    providers: Registry[type[ProviderAdapter]] = field(
        default_factory=lambda: Registry("provider", ProviderAdapter)
    )
    auth_methods: Registry[type[AuthMethod]] = field(
        default_factory=lambda: Registry("auth method", AuthMethod)
    )
    limit_strategies: Registry[type[LimitStrategy]] = field(
        default_factory=lambda: Registry("limit strategy", LimitStrategy)
    )
    usage_sinks: Registry[type[UsageSink]] = field(
        default_factory=lambda: Registry("usage sink", UsageSink)
    )
    routing_strategies: Registry[type[RoutingStrategy]] = field(
        default_factory=lambda: Registry("routing strategy", RoutingStrategy)
    )

    def as_dict(self) -> dict[str, Registry[Any]]:
        return {
            "providers": self.providers,
            "auth_methods": self.auth_methods,
            "limit_strategies": self.limit_strategies,
            "usage_sinks": self.usage_sinks,
            "routing_strategies": self.routing_strategies,
        }


@dataclass(slots=True)
class PluginInfo:
    """What ``gateway plugins list`` and the admin API show about one plugin."""

    name: str
    version: str
    origin: str  # "builtin" or the distribution name
    enabled: bool
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "origin": self.origin,
            "enabled": self.enabled,
            "hooks": self.hooks,
            "registered": self.registered,
        }


class GatewayPlugins:
    """A typed facade over the plugin manager: the loaded plugins and the filled registries."""

    def __init__(self, manager: pluggy.PluginManager, registries: Registries) -> None:
        self.manager = manager
        self.registries = registries
        self.hook = manager.hook

    def names(self) -> list[str]:
        return [name for name, _ in self.manager.list_name_plugin()]

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin with its hooks and what it put in each registry."""
        infos = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = sorted(
                impl_caller.name for impl_caller in self.manager.get_hookcallers(plugin) or []
            )
            registered: dict[str, list[str]] = {}
            for kind, registry in self.registries.as_dict().items():
                owned = [type_name for type_name, cls in registry.items() if _owned_by(cls, plugin)]
                if owned:
                    registered[kind] = owned
            version, origin = _version_of(name)
            infos.append(PluginInfo(name, version, origin, True, hooks, registered))
        return infos


def _owned_by(cls: type, plugin: object) -> bool:
    module_name = getattr(plugin, "__name__", None)
    if not isinstance(module_name, str):
        return False
    top = module_name.split(".")[0]
    return cls.__module__ == module_name or cls.__module__.split(".")[0] == top != PROJECT


def _version_of(name: str) -> tuple[str, str]:
    if name in DEFAULT_PLUGINS:
        return __version__, "builtin"
    entry = installed_entry_points().get(name)
    if entry is not None and entry.dist is not None:
        return entry.dist.version, entry.dist.name
    return "unknown", "local"


def _not_installed(name: str, source: str, installed: dict[str, metadata.EntryPoint]) -> str:
    hint = f"pip install {distribution_name(name)}"
    local = Path("plugins") / name
    if local.is_dir():
        hint += f" (or from this repository: pip install -e {local})"
    available = ", ".join(sorted({*DEFAULT_PLUGINS, *installed})) or "none"
    return (
        f"{source}: plugins.{name}: plugin {name!r} is enabled but not installed. "
        f"Install it with: {hint}. Installed plugins: {available}"
    )


def build_plugins(
    settings: Settings, extra_plugins: dict[str, ModuleType | object] | None = None
) -> GatewayPlugins:
    """Load the enabled plugins, validate their sections and fill the registries.

    ``extra_plugins`` registers plugin objects directly (tests and embedding applications do
    this instead of installing an entry point). Raises :class:`ConfigError` listing every
    problem found.
    """
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV):
        manager.trace.root.setwriter(log.info)
        manager.enable_tracing()

    problems: list[str] = []
    for name, module_path in DEFAULT_PLUGINS.items():
        if settings.plugin_enabled(name):
            manager.register(importlib.import_module(module_path), name=name)

    installed = installed_entry_points()
    extra = extra_plugins or {}
    for name, entry in settings.plugins.items():
        if not entry.enabled or name in DEFAULT_PLUGINS or name in extra:
            continue
        entry_point = installed.get(name)
        if entry_point is None:
            problems.append(_not_installed(name, settings.source, installed))
            continue
        try:
            manager.register(entry_point.load(), name=name)
        except Exception as exc:  # a broken plugin must fail boot with its name on it
            problems.append(f"{settings.source}: plugins.{name}: failed to load: {exc!r}")
    for name, plugin in extra.items():
        if settings.plugin_enabled(name):
            manager.register(plugin, name=name)
    if problems:
        raise ConfigError(problems)

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError([f"plugin {exc.plugin!r}: {exc}"]) from None

    settings.attach_plugin_configs(_validate_plugin_sections(manager, settings))
    registries = Registries()
    try:
        manager.hook.gateway_register_providers(providers=registries.providers)
        manager.hook.gateway_register_auth_methods(auth_methods=registries.auth_methods)
        manager.hook.gateway_register_limit_strategies(strategies=registries.limit_strategies)
        manager.hook.gateway_register_usage_sinks(sinks=registries.usage_sinks)
        manager.hook.gateway_register_routing_strategies(strategies=registries.routing_strategies)
    except RegistryError as exc:
        raise ConfigError([str(exc)]) from None
    return GatewayPlugins(manager, registries)


def _validate_plugin_sections(manager: pluggy.PluginManager, settings: Settings) -> dict[str, Any]:
    problems: list[str] = []
    validated: dict[str, Any] = {}
    declared: set[str] = set()
    for impl in manager.hook.gateway_plugin_config_model.get_hookimpls():
        name = impl.plugin_name
        model: type[BaseModel] | None = impl.function()
        if model is None:
            continue
        declared.add(name)
        entry = settings.plugins.get(name)
        raw = entry.config if entry is not None else {}
        try:
            validated[name] = model.model_validate(raw)
        except ValidationError as exc:
            problems += describe_validation_error(exc, settings.source, f"plugins.{name}")
    for name, entry in settings.plugins.items():
        if entry.enabled and entry.config and name not in declared:
            problems.append(
                f"{settings.source}: plugins.{name}: this plugin takes no settings; "
                f"write `{name}: true` to enable it"
            )
    if problems:
        raise ConfigError(problems)
    return validated
