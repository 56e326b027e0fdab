"""Which sign-in methods are on, checked once per worker while the app is built.

A method is offered when its plugin is enabled under ``plugins:`` *and* its ``admin`` flag is
true (``ADMIN_LOCAL_ENABLED`` defaults to true, ``ADMIN_OIDC_ENABLED`` to false). Installing a
plugin is not enough, and a flag set to true for a plugin that is not enabled stops start-up
saying which plugin to enable, rather than silently offering nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway_core.config import ConfigError, Settings
from gateway_core.registry import Registry, RegistryError
from gateway_core.sessions.service import SESSION_METHOD, SessionService
from gateway_core.sessions.signin import PasswordSignIn, SignInMethod

if TYPE_CHECKING:
    from sanic import Sanic

    from gateway_core.plugins import GatewayPlugins
    from gateway_core.shared import SharedState

log = logging.getLogger("gateway.sessions")

#: The original design's switches and the plugin that answers to each, for error messages.
FLAG_PLUGINS = {"local_enabled": "auth_local", "oidc_enabled": "auth_oidc"}


def variable_of(key: str) -> str:
    return f"ADMIN_{key.upper()}"


def sign_in_registry(plugins: GatewayPlugins) -> Registry[type[SignInMethod]]:
    registry: Registry[type[SignInMethod]] = Registry("sign-in method", SignInMethod)
    try:
        plugins.hook.gateway_register_sign_in_methods(methods=registry)
    except RegistryError as exc:
        raise ConfigError([str(exc)]) from None
    return registry


class AdminAuth:
    """The sign-in methods switched on in this worker, and the session service they share."""

    def __init__(self, methods: list[SignInMethod], sessions: SessionService | None) -> None:
        self.methods = methods
        self.sessions = sessions

    @classmethod
    def build(cls, settings: Settings, plugins: GatewayPlugins, shared: SharedState) -> AdminAuth:
        """Validate the combination of plugins and flags; raise :class:`ConfigError` if wrong."""
        registry = sign_in_registry(plugins)
        admin, source = settings.admin, settings.source
        problems: list[str] = []
        chosen: list[type[SignInMethod]] = []
        for name, method_class in registry.items():
            flag = method_class.enabled_flag
            if flag is None:
                chosen.append(method_class)
            elif not isinstance(getattr(admin, flag, None), bool):
                problems.append(
                    f"sign-in method {name!r} names enabled_flag {flag!r}, which is not a "
                    "boolean key of the admin settings"
                )
            elif getattr(admin, flag):
                chosen.append(method_class)
            else:
                log.info("sign-in method %s is installed but %s is false", name, variable_of(flag))
        flags_in_use = {method_class.enabled_flag for _, method_class in registry.items()}
        for flag, plugin in FLAG_PLUGINS.items():
            if flag in admin.model_fields_set and getattr(admin, flag) and flag not in flags_in_use:
                problems.append(
                    f"{source}: admin.{flag} ({variable_of(flag)}) is true, but no enabled plugin "
                    f"provides that sign-in method: add `{plugin}` under plugins: (installed "
                    f"with `pip install gateway-{plugin.replace('_', '-')}`), or set it to false"
                )
        if chosen and admin.session_jwt_secret is None:
            names = ", ".join(method_class.type_name for method_class in chosen)
            problems.append(
                f"{source}: admin.session_jwt_secret (ADMIN_SESSION_JWT_SECRET) is required when "
                f"admin sign-in is enabled (enabled: {names}); use 32 or more random characters"
            )
        if chosen and not settings.auth.disabled and SESSION_METHOD not in settings.auth.methods:
            problems.append(
                f"{source}: auth.methods must include {SESSION_METHOD!r} when admin sign-in is "
                "enabled, or signed-in admins cannot use the admin API"
            )
        if problems:
            raise ConfigError(problems)
        if admin.session_jwt_secret is None:
            return cls([], None)
        sessions = SessionService(admin, shared)
        methods: list[SignInMethod] = []
        for method_class in chosen:
            try:
                methods.append(method_class(settings, sessions))
            except ConfigError as exc:
                problems += exc.problems
        if problems:
            raise ConfigError(problems)
        return cls(methods, sessions)

    def names(self) -> list[str]:
        return [method.type_name for method in self.methods]

    def password_method(self) -> PasswordSignIn | None:
        return next((m for m in self.methods if isinstance(m, PasswordSignIn)), None)

    async def startup(self, app: Sanic) -> None:
        gateway = app.ctx.gateway
        if self.methods and not gateway.shared.distributed and gateway.settings.server.workers > 1:
            log.warning(
                "admin sign-in with %d workers and no redis.url: each worker keeps its own "
                "sessions and sign-in state, so refreshes and sign-ins will fail at random; "
                "configure Redis",
                gateway.settings.server.workers,
            )
        for method in self.methods:
            await method.startup(app)

    async def shutdown(self) -> None:
        for method in self.methods:
            try:
                await method.shutdown()
            except Exception:
                log.exception("sign-in method %s failed to shut down", method.type_name)
