"""The built-in ``admin_sessions`` plugin: the ``admin_session`` auth method and ``/admin/auth``.

Registered like any third party's plugin (``DEFAULT_PLUGINS``), so switching it off is
``plugins: {admin_sessions: false}``.

The auth method judges only tokens it issued (an ``iss`` of its own) and only under
``/admin/``: a browser session is for operating the gateway, not for spending model budget on
``/v1``. The role and team come from the user's current record (:mod:`.user_cache`), so a role
change, a deactivation or a deletion applies within seconds, long before the token expires;
signing out, or a detected refresh-token theft, ends the session's access tokens at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway_core import hookimpl
from gateway_core.api import AuthMethod, Identity
from gateway_core.errors import AuthenticationFailed
from gateway_core.sessions.access_tokens import (
    ISSUER,
    AccessTokenCodec,
    AccessTokenInvalid,
    claims_issuer,
)
from gateway_core.sessions.refresh_tokens import RefreshTokenStore
from gateway_core.sessions.routes import auth_blueprint
from gateway_core.sessions.service import SESSION_METHOD
from gateway_core.sessions.setup import AdminAuth
from gateway_core.sessions.user_cache import UserCache

if TYPE_CHECKING:
    from sanic import Request, Sanic

    from gateway_core.config import Settings
    from gateway_core.registry import Registry

ADMIN_PATH_PREFIX = "/admin/"


class AdminSessionAuth(AuthMethod):
    type_name = SESSION_METHOD

    def __init__(self, config: object, settings: Settings) -> None:
        super().__init__(config, settings)
        admin = settings.admin
        secret = admin.session_jwt_secret
        self._codec = (
            AccessTokenCodec(secret.get_secret_value(), admin.session_access_token_ttl)
            if secret is not None
            else None
        )
        self._users = UserCache()
        self._refresh: RefreshTokenStore | None = None

    async def startup(self, app: Sanic) -> None:
        self._refresh = RefreshTokenStore(
            app.ctx.gateway.shared, self.settings.admin.session_refresh_token_ttl
        )

    async def authenticate(self, request: Request, token: str | None) -> Identity | None:
        if self._codec is None or self._refresh is None or token is None:
            return None
        if not request.path.startswith(ADMIN_PATH_PREFIX) or claims_issuer(token) != ISSUER:
            return None
        try:
            claims = self._codec.verify(token)
        except AccessTokenInvalid as exc:
            if exc.expired:
                raise AuthenticationFailed(
                    "The admin session token has expired; refresh it.", code="session_expired"
                ) from None
            raise AuthenticationFailed(
                "Invalid admin session token.", code="invalid_session"
            ) from None
        if await self._refresh.family_revoked(claims.session_id):
            raise AuthenticationFailed(
                "This admin session has ended; sign in again.", code="session_ended"
            )
        user = await self._users.get(claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed(
                "This admin account no longer exists or is deactivated.", code="user_inactive"
            )
        return Identity(
            subject=user.id,
            method=SESSION_METHOD,
            role=user.role,
            team_id=user.team_id,
            metadata={"email": user.email, "session": claims.session_id},
        )


@hookimpl
def gateway_register_auth_methods(auth_methods: Registry[type[AuthMethod]]) -> None:
    auth_methods.add(AdminSessionAuth)


@hookimpl
def gateway_register_routes(app: Sanic, settings: Settings) -> None:
    gateway = app.ctx.gateway
    admin_auth = AdminAuth.build(settings, gateway.plugins, gateway.shared)
    app.ctx.admin_auth = admin_auth
    app.blueprint(auth_blueprint(admin_auth))


@hookimpl
def gateway_startup(app: Sanic) -> Any:
    return app.ctx.admin_auth.startup(app)


@hookimpl
def gateway_shutdown(app: Sanic) -> Any:
    return app.ctx.admin_auth.shutdown()
