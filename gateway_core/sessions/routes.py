"""``/admin/auth``: which sign-in methods are on, and the session endpoints every method shares.

The methods add their own routes here (``/login``, ``/oidc/start``...). A refresh token is read
from the cookie first and from a JSON body ``{"refresh_token": ...}`` otherwise; a client that
sent it in the body gets the rotated one back in the body too (it also gets the cookie).
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.codec import dumps, loads_object
from gateway_core.errors import AuthenticationFailed, InvalidRequest, NotFound
from gateway_core.sessions.service import AUTH_PATH, NO_STORE, SessionService
from gateway_core.sessions.setup import AdminAuth

MAX_TOKEN_LENGTH = 256


def _sessions(admin_auth: AdminAuth) -> SessionService:
    if admin_auth.sessions is None:
        raise NotFound("Admin sign-in is not enabled on this gateway.", code="sign_in_disabled")
    return admin_auth.sessions


def _presented_token(request: Request, cookie_name: str) -> tuple[str | None, bool]:
    """The refresh token and whether it came in the body."""
    cookie = request.cookies.get(cookie_name)
    if cookie:
        return cookie, False
    if not request.body:
        return None, False
    token = loads_object(request.body).get("refresh_token")
    if token is None:
        return None, False
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidRequest("'refresh_token' must be a refresh token.", param="refresh_token")
    return token, True


def auth_blueprint(admin_auth: AdminAuth) -> Blueprint:
    blueprint = Blueprint("admin_auth", url_prefix=AUTH_PATH)

    @blueprint.get("/methods")
    async def methods(request: Request) -> HTTPResponse:
        return raw(dumps(admin_auth.names()), content_type="application/json")

    @blueprint.post("/refresh")
    async def refresh(request: Request) -> HTTPResponse:
        sessions = _sessions(admin_auth)
        token, from_body = _presented_token(request, sessions.cookie_name)
        if token is None:
            raise AuthenticationFailed(
                'No refresh token: send the session cookie or {"refresh_token": ...}.',
                code="missing_refresh_token",
            )
        session = await sessions.renew(token)
        return sessions.respond(session, include_refresh_token=from_body)

    @blueprint.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        sessions = _sessions(admin_auth)
        token, _ = _presented_token(request, sessions.cookie_name)
        await sessions.end(token)
        response = raw(
            dumps({"signed_out": True}), content_type="application/json", headers=NO_STORE
        )
        sessions.clear_cookie(response)
        return response

    for method in admin_auth.methods:
        method.add_routes(blueprint)
    return blueprint
