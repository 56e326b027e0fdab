"""``GET /admin/auth/oidc/start`` and ``GET /admin/auth/oidc/callback``: the authorization code
flow with PKCE.

``start`` keeps the state, nonce and PKCE verifier in shared state (Redis when configured), and
gives the browser a short-lived cookie binding the flow to it. ``callback`` takes the state
exactly once (a replayed or unknown state is refused), checks the binding, exchanges the code,
verifies the ID token and the email domain, and starts a session.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from typing import TYPE_CHECKING

from sanic.response import HTTPResponse, redirect

from gateway_auth_oidc.config import OidcSignInConfig
from gateway_auth_oidc.provider import (
    ClientRegistration,
    IdentityProvider,
    ProviderError,
    is_acceptable_url,
)
from gateway_auth_oidc.provisioning import email_domain_allowed, find_or_provision
from gateway_core.config import ConfigError
from gateway_core.errors import (
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    ServiceUnavailable,
)
from gateway_core.sessions import SignInMethod

if TYPE_CHECKING:
    from sanic import Blueprint, Request, Sanic

    from gateway_core.config import Settings
    from gateway_core.sessions import SessionService
    from gateway_core.shared import SharedState
    from gateway_core.tenancy.service import TenancyService

log = logging.getLogger("gateway.auth_oidc")

PLUGIN_NAME = "auth_oidc"
STATE_KEY = "admin:oidc:state:"
FLOW_PATH = "/admin/auth/oidc"
PROVIDER_ERROR = re.compile(r"^[a-z_]{1,40}$")


class OidcSignIn(SignInMethod):
    type_name = "oidc"
    enabled_flag = "oidc_enabled"

    def __init__(self, settings: Settings, sessions: SessionService) -> None:
        super().__init__(settings, sessions)
        self.config: OidcSignInConfig = settings.plugin_config(PLUGIN_NAME) or OidcSignInConfig()
        admin = settings.admin
        assert admin.oidc_issuer and admin.oidc_client_id and admin.oidc_redirect_url
        assert admin.oidc_client_secret is not None  # the admin settings require all four
        problems = [
            f"{settings.source}: admin.{key} ({'ADMIN_' + key.upper()}) must be an https URL "
            "(plain http is accepted for localhost only)"
            for key in ("oidc_issuer", "oidc_redirect_url")
            if not is_acceptable_url(getattr(admin, key))
        ]
        if problems:
            raise ConfigError(problems)
        self.allowed_domains = list(admin.oidc_allowed_domains)
        self.binding_cookie = f"{admin.session_cookie_name}_oidc"
        self.provider = IdentityProvider(
            ClientRegistration(
                issuer=admin.oidc_issuer,
                client_id=admin.oidc_client_id,
                client_secret=admin.oidc_client_secret.get_secret_value(),
                redirect_url=admin.oidc_redirect_url,
                scopes=tuple(admin.oidc_scopes),
            ),
            timeout=self.config.http_timeout,
            metadata_ttl=self.config.metadata_ttl,
            leeway=self.config.leeway,
        )
        self.shared: SharedState | None = None
        self.tenancy: TenancyService | None = None

    async def startup(self, app: Sanic) -> None:
        self.shared = app.ctx.gateway.shared
        self.tenancy = app.ctx.gateway.tenancy
        await self.provider.open()

    async def shutdown(self) -> None:
        await self.provider.close()

    def add_routes(self, blueprint: Blueprint) -> None:
        blueprint.add_route(self.start, "/oidc/start", methods=["GET"], name="oidc_start")
        blueprint.add_route(self.callback, "/oidc/callback", methods=["GET"], name="oidc_callback")

    async def start(self, request: Request) -> HTTPResponse:
        assert self.shared is not None, "startup() has not run"
        state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
        verifier = secrets.token_urlsafe(48)
        try:
            url = await self.provider.authorization_url(
                state=state, nonce=nonce, code_verifier=verifier
            )
        except ProviderError as exc:
            log.warning("cannot start an OIDC sign-in: %s", exc)
            raise ServiceUnavailable("The identity provider cannot be reached.") from None
        flow = json.dumps({"nonce": nonce, "verifier": verifier, "binding": binding})
        await self.shared.set(STATE_KEY + state, flow, self.config.state_ttl)
        response = redirect(url)
        response.add_cookie(
            self.binding_cookie,
            binding,
            path=FLOW_PATH,
            max_age=int(self.config.state_ttl),
            secure=True,
            httponly=True,
            samesite="Lax",  # the callback is a top-level navigation from the provider
        )
        return response

    async def callback(self, request: Request) -> HTTPResponse:
        assert self.shared is not None and self.tenancy is not None, "startup() has not run"
        error = request.args.get("error")
        if error:
            code = error if PROVIDER_ERROR.match(error) else "error"
            raise AuthenticationFailed(
                f"The identity provider did not sign you in ({code}).", code="oidc_denied"
            )
        state, code = request.args.get("state"), request.args.get("code")
        if not state or not code:
            raise InvalidRequest("The callback needs 'state' and 'code'.", code="invalid_state")
        saved = await self.shared.take(STATE_KEY + state)
        if saved is None:
            raise InvalidRequest(
                "Unknown, expired or already used sign-in state; start the sign-in again.",
                code="invalid_state",
            )
        flow = json.loads(saved)
        binding = request.cookies.get(self.binding_cookie) or ""
        if not hmac.compare_digest(binding.encode(), flow["binding"].encode()):
            raise InvalidRequest(
                "This sign-in was started in another browser; start it again here.",
                code="invalid_state",
            )
        try:
            token = await self.provider.exchange(code, flow["verifier"])
            claims = await self.provider.verify_id_token(
                token["id_token"], nonce=flow["nonce"], access_token=token.get("access_token")
            )
        except ProviderError as exc:
            log.warning("refused an OIDC sign-in: %s", exc)
            raise AuthenticationFailed(
                "The identity provider's answer could not be verified.", code="oidc_failed"
            ) from None
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified", True) is not True:
            raise AuthenticationFailed(
                "The identity provider gave no verified email address.", code="oidc_no_email"
            )
        if not email_domain_allowed(email, self.allowed_domains):
            log.info("refused an OIDC sign-in from a domain that is not allowed")
            raise PermissionDenied(
                "Accounts of this email domain may not sign in to this gateway.",
                code="domain_not_allowed",
            )
        user = await find_or_provision(self.tenancy, email, self.config)
        response = await self.sessions.sign_in(user, self.type_name)
        response.delete_cookie(self.binding_cookie, path=FLOW_PATH)
        return response
