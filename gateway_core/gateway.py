"""The per-worker gateway: loaded plugins, model table, auth chain and shared resources.

One instance lives at ``app.ctx.gateway``. Everything on it is built at start-up; request
handlers only read it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway_core import db
from gateway_core.api import AuthMethod, Identity
from gateway_core.config import ConfigError, Settings
from gateway_core.db.lifetime import expire_periodically
from gateway_core.db.migrations import apply_migrations
from gateway_core.errors import AuthenticationFailed
from gateway_core.http import UpstreamClient
from gateway_core.limits import LimitsEngine
from gateway_core.limits.alerts import LimitAlert
from gateway_core.limits.build import build_limits
from gateway_core.limits.rules import resolve_rules
from gateway_core.plugins import GatewayPlugins, build_plugins
from gateway_core.registry import RegistryError
from gateway_core.routing import ModelSpec, RouteExecutor, Router, resolve_models
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState, SharedState, build_shared_state
from gateway_core.tenancy import repository as tenancy_repo
from gateway_core.tenancy.key_cache import KeyCache
from gateway_core.tenancy.service import TenancyService, load_key_record
from gateway_core.usage.pricing import PriceTable
from gateway_core.usage.setup import build_recorder, resolve_sinks

if TYPE_CHECKING:
    from types import ModuleType

    from sanic import Request, Sanic

log = logging.getLogger("gateway")

ANONYMOUS = Identity(subject="anonymous", method="none", role="admin")
ReadinessCheck = Callable[[], Awaitable[None]]
KEY_SECRET_NAME = "virtual_key_hmac"  # noqa: S105 (a row name, not a secret)
# Without a distributed backend a revoked key must still stop working within a second.
LOCAL_KEY_CACHE_TTL = 1.0
SHARED_KEY_CACHE_TTL = 60.0


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


def build_auth_chain(settings: Settings, plugins: GatewayPlugins) -> list[AuthMethod]:
    """Auth methods in the deployer's order (``auth.methods``)."""
    if settings.auth.disabled:
        return []
    chain, problems = [], []
    for index, name in enumerate(settings.auth.methods):
        try:
            method = plugins.registries.auth_methods.get(name)
        except RegistryError as exc:
            problems.append(f"{settings.source}: auth.methods[{index}]: {exc.message}")
            continue
        chain.append(method(None, settings))
    if problems:
        raise ConfigError(problems)
    return chain


def check_settings(
    settings: Settings, extra_plugins: dict[str, ModuleType | object] | None = None
) -> tuple[GatewayPlugins, list[ModelSpec]]:
    """Everything ``gateway config check`` verifies, without opening any connection."""
    validate_auth(settings)
    plugins = build_plugins(settings, extra_plugins)
    models = resolve_models(settings, plugins.registries)
    build_auth_chain(settings, plugins)
    resolve_sinks(settings, plugins.registries)
    AdminAuth.build(settings, plugins, InProcessState())  # sign-in flags, plugins and secret agree
    resolve_rules(settings, plugins.registries)
    return plugins, models


class Gateway:
    def __init__(
        self,
        settings: Settings,
        extra_plugins: dict[str, ModuleType | object] | None = None,
    ) -> None:
        self.settings = settings
        self.plugins, self.models = check_settings(settings, extra_plugins)
        self.auth_chain = build_auth_chain(settings, self.plugins)
        self.http = UpstreamClient()
        self.router: Router = Router({})
        self.executor = RouteExecutor(self.router, settings.routing)
        self.shared: SharedState = build_shared_state(settings.redis)
        self.readiness_checks: dict[str, ReadinessCheck] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.draining = False
        self.key_cache: KeyCache | None = None
        self.tenancy: TenancyService | None = None
        self.limits: LimitsEngine = build_limits(
            settings, self.plugins.registries, self.models, self.shared
        )
        self.usage = build_recorder(settings, resolve_sinks(settings, self.plugins.registries))
        self.pricing = PriceTable(
            {spec.id: spec.price for model in self.models for spec in model.deployments}
        )

    @property
    def needs_usage(self) -> bool:
        """Whether anything consumes token usage (so that it is worth measuring)."""
        return self.usage.active or self.limits.needs_usage

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

    async def open_storage(self) -> None:
        """Database (migrated when configured to), shared state, key cache, tenancy service."""
        database = self.settings.database
        await db.connect(database)
        if database.run_migrations:
            await apply_migrations(database)
        configured = self.settings.auth.key_secret
        secret = (
            configured.get_secret_value()
            if configured is not None
            else await tenancy_repo.get_or_create_secret(KEY_SECRET_NAME, secrets.token_hex(32))
        )
        ttl = self.settings.auth.key_cache_ttl
        if ttl is None:
            ttl = SHARED_KEY_CACHE_TTL if self.shared.distributed else LOCAL_KEY_CACHE_TTL
        self.key_cache = KeyCache(secret.encode(), load_key_record, ttl)
        self.key_cache.attach(self.shared)
        await self.shared.start()
        await self.limits.start()
        self.limits.on_alert(self._forward_alert)
        await self.usage.start()
        self.tenancy = TenancyService(self.key_cache, self.shared)
        self.readiness_checks["database"] = self._database_ping
        self._keep(asyncio.get_running_loop().create_task(expire_periodically(database)))
        if self.shared.distributed:
            self.readiness_checks["redis"] = self.shared.ping

    def _forward_alert(self, alert: LimitAlert) -> None:
        """A soft limit was crossed: tell the usage sinks (webhooks notify people)."""
        task = asyncio.get_running_loop().create_task(
            self.usage.alert({"kind": "limit_soft_threshold", **dataclasses.asdict(alert)})
        )
        self._keep(task)

    def _keep(self, task: asyncio.Task[None]) -> None:
        """Hold a background task until it ends (and cancel it at shutdown)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _database_ping(self) -> None:
        await db.connection(self.settings.database).execute_query("SELECT 1")

    async def close_storage(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.usage.close(self.settings.server.graceful_shutdown)
        await self.limits.close()
        await self.shared.close()
        await db.close()

    async def start(self, app: Sanic) -> None:
        await self.http.open()
        await self.open_storage()
        self.build_router()
        for method in self.auth_chain:
            await method.startup(app)
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
        await self.close_storage()


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
