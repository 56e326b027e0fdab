"""Asking a token service (OAuth2, Entra ID, Google) for an access token over the shared client.

Every provider sign-in ends the same way: one HTTP request whose JSON answer holds
``access_token`` and ``expires_in``. Going through the shared :class:`UpstreamClient` means no
second connection pool, the deployment's timeouts, and transport failures that become the same
gateway errors as the deployment's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

import orjson

from gateway_core.api import Timeouts, UpstreamClient, UpstreamError
from gateway_core.tokens import AccessToken

FORM = "application/x-www-form-urlencoded"
AUTH_FAILED = "upstream_authentication_error"
# OAuth error codes are short snake_case words; anything else is not repeated to clients.
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")


class TokenRequests:
    """Sends token requests for one deployment and turns refusals into gateway errors."""

    def __init__(self, http: UpstreamClient, timeouts: Timeouts, deployment: str) -> None:
        self.http = http
        self.timeouts = timeouts
        self.deployment = deployment

    async def post_form(self, url: str, form: Mapping[str, str], service: str) -> AccessToken:
        """POST an OAuth form (``grant_type`` and its fields) to a token endpoint."""
        headers = {"Content-Type": FORM, "Accept": "application/json"}
        return await self._fetch("POST", url, headers, urlencode(form).encode(), service)

    async def get(self, url: str, headers: Mapping[str, str], service: str) -> AccessToken:
        """GET a token from a service that hands them out without a form (the metadata server)."""
        return await self._fetch(
            "GET", url, {**headers, "Accept": "application/json"}, None, service
        )

    async def _fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        service: str,
    ) -> AccessToken:
        async with self.http.request(
            method, url, headers=headers, content=content, timeouts=self.timeouts
        ) as response:
            body = await response.read()
            status = response.status
        if status != 200:
            raise self.refused(status, body, service)
        return self.token_from(body, service)

    def refused(self, status: int, body: bytes, service: str) -> UpstreamError:
        reason = _oauth_error(body)
        detail = f"HTTP {status}, {reason}" if reason else f"HTTP {status}"
        if status in (400, 401, 403):
            return UpstreamError(
                f"{service} refused the credentials of deployment {self.deployment} ({detail})",
                code=AUTH_FAILED,
            )
        return UpstreamError(
            f"{service} could not issue a token for deployment {self.deployment} ({detail})"
        )

    def token_from(self, body: bytes, service: str) -> AccessToken:
        try:
            parsed = orjson.loads(body)
            value, expires_in = parsed["access_token"], float(parsed["expires_in"])
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            value, expires_in = None, 0.0
        if not isinstance(value, str) or not value:
            raise UpstreamError(
                f"{service} answered without an access token for deployment {self.deployment}"
            )
        return AccessToken(value, expires_in)

    def failed(self, message: str) -> UpstreamError:
        """A sign-in problem on the gateway's side (a key that cannot be read, say)."""
        return UpstreamError(f"Deployment {self.deployment}: {message}", code=AUTH_FAILED)


def _oauth_error(body: bytes) -> str | None:
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return error if isinstance(error, str) and _OAUTH_ERROR.match(error) else None
