"""Sessions of signed-in admins: start one, renew it, end it, and answer with the tokens.

The access token travels in the JSON body (the client keeps it in memory and sends it as a
bearer token); the refresh token travels in an HttpOnly, Secure, SameSite=Strict cookie scoped
to ``/admin/auth``, so page scripts cannot read it and other admin routes never receive it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sanic.response import HTTPResponse, raw

from gateway_core.codec import dumps
from gateway_core.config import AdminAuthSettings
from gateway_core.errors import AuthenticationFailed
from gateway_core.sessions.access_tokens import AccessTokenCodec
from gateway_core.sessions.refresh_tokens import RefreshRecord, RefreshRejected, RefreshTokenStore
from gateway_core.shared import SharedState
from gateway_core.tenancy import repository as users
from gateway_core.tenancy.models import AdminUser

log = logging.getLogger("gateway.sessions")

AUTH_PATH = "/admin/auth"
#: The auth method that accepts the access tokens issued here.
SESSION_METHOD = "admin_session"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True, slots=True)
class IssuedSession:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: dict[str, Any]


def describe_user(user: AdminUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "team_id": user.team_id,  # type: ignore[attr-defined]
    }


class SessionService:
    def __init__(self, settings: AdminAuthSettings, shared: SharedState) -> None:
        if settings.session_jwt_secret is None:
            raise ValueError("a session service needs admin.session_jwt_secret")
        self.settings = settings
        self.access = AccessTokenCodec(
            settings.session_jwt_secret.get_secret_value(), settings.session_access_token_ttl
        )
        self.refresh = RefreshTokenStore(shared, settings.session_refresh_token_ttl)
        self.cookie_name = settings.session_cookie_name

    # -- the session itself -------------------------------------------------------------------

    async def start(self, user: AdminUser, method: str) -> IssuedSession:
        """A new session (a new refresh-token family) for a user who just proved who they are."""
        if not user.is_active:
            raise AuthenticationFailed("This admin account is deactivated.", code="user_inactive")
        token, record = await self.refresh.open_family(user.id, method)
        log.info("admin %s signed in via %s", user.id, method)
        return self._issue(user, token, record)

    async def renew(self, refresh_token: str) -> IssuedSession:
        """Spend a refresh token for a new pair; the user is read again, so role changes and
        deactivation apply here."""
        try:
            record = await self.refresh.spend(refresh_token)
        except RefreshRejected as exc:
            log.info("refused a refresh token: %s", exc.reason)
            raise AuthenticationFailed(
                "The session is no longer valid; sign in again.", code="invalid_refresh_token"
            ) from None
        user = await users.find_user(record.user_id)
        if user is None or not user.is_active:
            await self.refresh.revoke_family(record)
            raise AuthenticationFailed(
                "This admin account no longer exists or is deactivated.", code="user_inactive"
            )
        token = await self.refresh.issue(record)
        return self._issue(user, token, record)

    async def end(self, refresh_token: str | None) -> None:
        if refresh_token:
            record = await self.refresh.revoke(refresh_token)
            if record is not None:
                log.info("admin %s signed out", record.user_id)

    def _issue(self, user: AdminUser, refresh_token: str, record: RefreshRecord) -> IssuedSession:
        access_token, expires_in = self.access.issue(
            user_id=user.id,
            session_id=record.family,
            role=user.role,
            team_id=user.team_id,  # type: ignore[attr-defined]
            email=user.email,
        )
        return IssuedSession(
            access_token=access_token,
            expires_in=expires_in,
            refresh_token=refresh_token,
            refresh_expires_in=max(int(record.remaining()), 1),
            user=describe_user(user),
        )

    # -- HTTP ---------------------------------------------------------------------------------

    async def sign_in(self, user: AdminUser, method: str) -> HTTPResponse:
        """What a sign-in method returns once it has proved who ``user`` is."""
        return self.respond(await self.start(user, method))

    def respond(
        self, session: IssuedSession, *, include_refresh_token: bool = False
    ) -> HTTPResponse:
        body: dict[str, Any] = {
            "access_token": session.access_token,
            "token_type": "Bearer",
            "expires_in": session.expires_in,
            "user": session.user,
        }
        if include_refresh_token:
            body["refresh_token"] = session.refresh_token
        response = raw(dumps(body), content_type="application/json", headers=NO_STORE)
        response.add_cookie(
            self.cookie_name,
            session.refresh_token,
            path=AUTH_PATH,
            max_age=session.refresh_expires_in,
            secure=True,
            httponly=True,
            samesite="Strict",
        )
        return response

    def clear_cookie(self, response: HTTPResponse) -> None:
        response.delete_cookie(self.cookie_name, path=AUTH_PATH)
