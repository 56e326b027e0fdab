"""Hook specifications: every way a plugin can extend the gateway.

Hooks run at start-up and shut-down only. They add classes to typed registries, routes to the
app and work to the lifecycle; the request path then calls plain async methods on objects built
from configuration, so no request ever walks the plugin manager.

Plugins implement any subset of these with ``@gateway_core.hookimpl`` on functions of the module
(or object) named by their entry point in the ``gateway_core`` group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway_core import hookspec

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from pydantic import BaseModel
    from sanic import Sanic

    from gateway_core.api import (
        AuthMethod,
        LimitStrategy,
        ProviderAdapter,
        RoutingStrategy,
        UsageSink,
    )
    from gateway_core.config import Settings
    from gateway_core.registry import Registry
    from gateway_core.sessions.signin import SignInMethod


@hookspec
def gateway_register_providers(providers: Registry[type[ProviderAdapter]]) -> None:
    """Add provider adapter classes to ``providers``.

    Called once per process while the gateway builds its registries, before any configuration
    of models is turned into adapter instances. Call ``providers.add(MyAdapter)``; the class's
    ``type_name`` becomes the ``provider:`` value deployers write in a model deployment, and its
    ``config_model`` validates the rest of that deployment's keys.

    Not firstresult: every plugin's implementation runs. Adding a type name that another plugin
    already added fails start-up and names both classes.
    """


@hookspec
def gateway_register_auth_methods(auth_methods: Registry[type[AuthMethod]]) -> None:
    """Add auth method classes to ``auth_methods``.

    Called once per process while registries are built. An auth method turns a request into an
    :class:`~gateway_core.api.Identity`, abstains with ``None`` or refuses by raising; the order
    in which configured methods are asked comes from the deployer's YAML, never from load order.

    Not firstresult: every implementation runs; duplicate type names fail start-up.
    """


@hookspec
def gateway_register_limit_strategies(strategies: Registry[type[LimitStrategy]]) -> None:
    """Add limit strategy classes (requests per minute, tokens, budgets...) to ``strategies``.

    Called once per process while registries are built. A deployer uses a class in a rule,
    ``limits.rules: [{strategy: <type_name>, scope: key, limit: 100, ...options}]``; the options
    are validated against its ``config_model`` and one instance is built per rule. The built-in
    ``rpm``, ``tpm``, ``parallel`` and ``budget`` are registered through this hook too. What a
    strategy implements is described on :class:`~gateway_core.api.LimitStrategy`. Not
    firstresult; duplicate type names fail start-up.
    """


@hookspec
def gateway_register_usage_sinks(sinks: Registry[type[UsageSink]]) -> None:
    """Add usage sink classes (database, files, metrics, webhooks...) to ``sinks``.

    Called once per process while registries are built. Not firstresult; duplicate type names
    fail start-up.
    """


@hookspec
def gateway_register_routing_strategies(strategies: Registry[type[RoutingStrategy]]) -> None:
    """Add routing strategy classes (how a model's deployments are ordered per request).

    Called once per process while registries are built. A model picks one with ``strategy:``
    (default ``routing.strategy``); its ``strategy_options`` are validated against the class's
    ``config_model``. Not firstresult; duplicate type names fail start-up.
    """


@hookspec
def gateway_register_sign_in_methods(methods: Registry[type[SignInMethod]]) -> None:
    """Add admin sign-in method classes (passwords, identity providers, SAML...) to ``methods``.

    Called once per worker while the app is built, after every plugin's configuration has been
    validated. A :class:`~gateway_core.sessions.SignInMethod` proves who an admin is on routes
    of its own under ``/admin/auth``; the core then issues the session. A method is offered
    only when its plugin is enabled and its ``enabled_flag`` (if any) is true. Not firstresult;
    duplicate type names fail start-up.
    """


@hookspec
def gateway_plugin_config_model() -> type[BaseModel] | None:
    """Return the pydantic model of this plugin's own section in the ``plugins:`` mapping.

    Called once per plugin at configuration time, and only for the plugin that implements it:
    the value under ``plugins: {<name>: {...}}`` is validated against the returned model before
    any request is served, and the validated instance is available as
    ``settings.plugin_config("<name>")``. Return ``None`` (or do not implement the hook) for a
    plugin that takes no settings; such a plugin is enabled with ``<name>: true``.
    """


@hookspec
def gateway_register_routes(app: Sanic, settings: Settings) -> None:
    """Add routes or blueprints to ``app``.

    Called once per worker process while the app is built, after the core's own routes exist.
    Routes added here are outside the ``/v1`` hot path unless the plugin puts them there; they
    get the gateway's error shape and request ids like every other route. Not firstresult.
    """


@hookspec
def gateway_startup(app: Sanic, settings: Settings) -> Awaitable[Any] | None:
    """Prepare per-worker resources (connections, background tasks) before requests arrive.

    Called once in each worker process, after the core has opened its own resources (the
    upstream HTTP client is at ``app.ctx.gateway.http``). pluggy hooks are synchronous: an
    implementation that needs to await something returns an awaitable, and the core awaits
    every returned awaitable before the worker accepts connections. Not firstresult.
    """


@hookspec
def gateway_shutdown(app: Sanic) -> Awaitable[Any] | None:
    """Release what ``gateway_startup`` acquired.

    Called once in each worker process after in-flight requests have finished or the grace
    period has run out. Like ``gateway_startup``, an implementation may return an awaitable for
    the core to await. An exception is logged and does not stop other plugins' shutdown.
    """
