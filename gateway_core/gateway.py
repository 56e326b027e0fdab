"""The per-worker gateway: loaded plugins, model table, auth chain and upstream client.

One instance lives at ``app.ctx.gateway``. Everything on it is built at start-up; request
handlers only read it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway_core.api import AuthMethod, Identity
from gateway_core.config import ConfigError, Settings
from gateway_core.errors import AuthenticationFailed
from gateway_core.http import UpstreamClient
from gateway_core.plugins import GatewayPlugins, build_plugins
from gateway_core.routing import ModelSpec, RouteExecutor, Router, resolve_models

if TYPE_CHECKING:
    from types import ModuleType

    from sanic import Request, Sanic

log = logging.getLogger("gateway")

ANONYMOUS = Identity(subject="anonymous", method="none")
ReadinessCheck = Callable[[], Awaitable[None]]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def validate_auth(settings: Settings) -> None:
    if settings.auth.disabled or settings.auth.master_key is not None:
        return
    raise ConfigError(
        [
            f"{settings.source}: auth.master_key: no master key is set. Set one (for example "
            "`master_key: ${GATEWAY_MASTER_KEY}`) or, to serve without any authentication, "
            "write `auth: {disabled: true}` explicitly"
        ]
    )


def check_settings(
    settings: Settings, extra_plugins: dict[str, ModuleType | object] | None = None
) -> tuple[GatewayPlugins, list[ModelSpec]]:
    """Everything ``gateway config check`` verifies, without opening any connection."""
    validate_auth(settings)
    plugins = build_plugins(settings, extra_plugins)
    models = resolve_models(settings, plugins.registries)
    return plugins, models


class Gateway:
    def __init__(
        self,
        settings: Settings,
        extra_plugins: dict[str, ModuleType | object] | None = None,
    ) -> None:
        self.settings = settings
        self.plugins, self.models = check_settings(settings, extra_plugins)
        auth_type = self.plugins.registries.auth_methods
        self.auth_chain: list[AuthMethod] = []
        if not settings.auth.disabled and "master_key" in auth_type:
            self.auth_chain.append(auth_type.get("master_key")(None, settings))
        self.http = UpstreamClient()
        self.router: Router = Router({})
        self.executor = RouteExecutor(self.router, settings.routing)
        self.readiness_checks: dict[str, ReadinessCheck] = {}
        self.draining = False

    async def authenticate(self, request: Request) -> Identity:
        """Ask each configured auth method in order; the first identity wins."""
        if self.settings.auth.disabled:
            return ANONYMOUS
        token = bearer_token(request.headers.get("authorization"))
        for method in self.auth_chain:
            identity = await method.authenticate(request, token)
            if identity is not None:
                return identity
        if token is None:
            raise AuthenticationFailed(
                "Missing API key. Send it as 'Authorization: Bearer <key>'.",
                code="missing_api_key",
            )
        raise AuthenticationFailed("Invalid API key.")

    def build_router(self) -> None:
        """Build this worker's adapters and routing state (the client may open later)."""
        self.router = Router.build(self.models, self.http, self.settings.routing)
        self.executor = RouteExecutor(self.router, self.settings.routing)

    async def start(self, app: Sanic) -> None:
        await self.http.open()
        self.build_router()
        await _await_all(self.plugins.hook.gateway_startup(app=app, settings=self.settings))

    async def stop(self, app: Sanic) -> None:
        for result in _call_each(self.plugins, "gateway_shutdown", app=app):
            if inspect.isawaitable(result):
                try:
                    await result
                except Exception:
                    log.exception("a plugin failed during shutdown")
        await self.router.close()
        await self.http.close()


async def _await_all(results: list[Any]) -> None:
    pending = [result for result in results if inspect.isawaitable(result)]
    if pending:
        await asyncio.gather(*pending)


def _call_each(plugins: GatewayPlugins, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call every implementation separately so one plugin's failure cannot skip the others."""
    results = []
    for impl in getattr(plugins.hook, hook_name).get_hookimpls():
        try:
            results.append(impl.function(**kwargs))
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
    return results
