"""``POST /admin/auth/login``: email and password, checked against an Argon2id hash.

Every failure that could tell an attacker something (unknown email, a user without a password,
a wrong password) gets the same answer after the same work: the password is always verified,
against a dummy hash when there is no real one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from gateway_auth_local.config import LocalSignInConfig
from gateway_auth_local.hashing import MAX_PASSWORD_BYTES, Passwords
from gateway_auth_local.throttle import LoginThrottle
from gateway_core.admin.spec import parse_body
from gateway_core.errors import AuthenticationFailed, InvalidRequest, NotFound
from gateway_core.sessions import PasswordSignIn
from gateway_core.tenancy import repository as users
from gateway_core.tenancy.models import AdminUser, AuditEntry

if TYPE_CHECKING:
    from sanic import Blueprint, HTTPResponse, Request, Sanic

    from gateway_core.config import Settings
    from gateway_core.sessions import SessionService
    from gateway_core.tenancy.service import Actor

log = logging.getLogger("gateway.auth_local")

PLUGIN_NAME = "auth_local"


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_BYTES)


class LocalSignIn(PasswordSignIn):
    type_name = "local"
    enabled_flag = "local_enabled"

    def __init__(self, settings: Settings, sessions: SessionService) -> None:
        super().__init__(settings, sessions)
        self.config: LocalSignInConfig = settings.plugin_config(PLUGIN_NAME) or LocalSignInConfig()
        self.passwords = Passwords(self.config.argon2)
        self.throttle: LoginThrottle | None = None

    async def startup(self, app: Sanic) -> None:
        self.throttle = LoginThrottle(
            app.ctx.gateway.shared,
            per_account=self.config.max_failures_per_account,
            per_address=self.config.max_failures_per_ip,
            window=self.config.failure_window,
        )

    def add_routes(self, blueprint: Blueprint) -> None:
        blueprint.add_route(self.login, "/login", methods=["POST"], name="local_login")

    async def login(self, request: Request) -> HTTPResponse:
        assert self.throttle is not None, "startup() has not run"
        body: Any = parse_body(LoginBody, request)
        email = body.email.strip().lower()
        address = request.remote_addr or request.ip
        await self.throttle.check(email, address)
        user = await users.find_user_by_email(email)
        stored = user.password_hash if user is not None else None
        verified = await self.passwords.verify_in_thread(stored, body.password)
        if user is None or stored is None or not verified:
            await self.throttle.failed(email, address)
            log.info("refused a password sign-in from %s", address)
            raise AuthenticationFailed("Invalid email or password.", code="invalid_credentials")
        await self.throttle.succeeded(email)
        if self.passwords.needs_rehash(stored):
            user.password_hash = await self.passwords.hash_in_thread(body.password)
            await user.save(update_fields=["password_hash"])
            log.info("upgraded the password hash of %s to the current parameters", user.id)
        return await self.sessions.sign_in(user, self.type_name)

    def check_password(self, password: str) -> None:
        if len(password) < self.config.min_password_length:
            raise InvalidRequest(
                f"A password needs at least {self.config.min_password_length} characters.",
                param="password",
            )
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise InvalidRequest(
                f"A password may be at most {MAX_PASSWORD_BYTES} bytes long.", param="password"
            )

    async def set_password(self, actor: Actor, user_id: str, password: str) -> None:
        self.check_password(password)
        hashed = await self.passwords.hash_in_thread(password)
        async with in_transaction() as connection:
            user = await AdminUser.get_or_none(id=user_id, using_db=connection)
            if user is None:
                raise NotFound(f"No admin user with id '{user_id}'.", code="user_not_found")
            had_password = user.password_hash is not None
            user.password_hash = hashed
            await user.save(using_db=connection)
            await AuditEntry.create(
                actor=actor.identity.subject,
                actor_method=actor.identity.method,
                action="user.password_reset" if had_password else "user.password_set",
                target_type="admin_user",
                target_id=user.id,
                team_id=user.team_id,  # type: ignore[attr-defined]
                before={"has_password": had_password},
                after={"has_password": True},
                request_id=actor.request_id,
                using_db=connection,
            )
