"""Microsoft Entra ID access tokens by the client-credentials grant.

Tokens are fetched through the worker's shared :class:`~gateway_core.http.UpstreamClient`
rather than a client of our own: there is then no second connection pool to open and close
with the adapter, and a token endpoint that is down or slow fails with the same gateway errors
and timeouts as the deployment it serves. One fetch an hour per deployment makes speed moot.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import orjson

from gateway_azure.config import EntraIdConfig
from gateway_core.api import Timeouts, UpstreamClient, UpstreamError
from gateway_core.tokens import AccessToken, BearerTokenAuth, TokenCache

FORM = "application/x-www-form-urlencoded"
# OAuth error codes are short snake_case words; anything else is not repeated to clients.
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")


class EntraIdAuth(BearerTokenAuth):
    """``Authorization: Bearer`` with a service principal's token, cached per deployment."""

    def __init__(
        self, config: EntraIdConfig, http: UpstreamClient, timeouts: Timeouts, deployment: str
    ) -> None:
        super().__init__(TokenCache(ClientCredentials(config, http, timeouts, deployment)))


class ClientCredentials:
    """Fetches one access token for a service principal; a :class:`TokenCache` calls it."""

    def __init__(
        self, config: EntraIdConfig, http: UpstreamClient, timeouts: Timeouts, deployment: str
    ) -> None:
        self.config = config
        self.http = http
        self.timeouts = timeouts
        self.deployment = deployment
        self.url = f"{config.authority_host}/{config.tenant_id}/oauth2/v2.0/token"

    async def __call__(self) -> AccessToken:
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret.get_secret_value(),
                "scope": self.config.scope,
            }
        ).encode()
        async with self.http.request(
            "POST",
            self.url,
            headers={"Content-Type": FORM, "Accept": "application/json"},
            content=form,
            timeouts=self.timeouts,
        ) as response:
            body = await response.read()
            status = response.status
        if status != 200:
            raise self._refused(status, body)
        return self._token_from(body)

    def _refused(self, status: int, body: bytes) -> UpstreamError:
        reason = _oauth_error(body)
        detail = f"HTTP {status}, {reason}" if reason else f"HTTP {status}"
        if status in (400, 401, 403):
            return UpstreamError(
                f"Entra ID refused the credentials of deployment {self.deployment} ({detail})",
                code="upstream_authentication_error",
            )
        return UpstreamError(
            f"Entra ID could not issue a token for deployment {self.deployment} ({detail})"
        )

    def _token_from(self, body: bytes) -> AccessToken:
        try:
            parsed = orjson.loads(body)
            value, expires_in = parsed["access_token"], float(parsed["expires_in"])
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            value, expires_in = None, 0.0
        if not isinstance(value, str) or not value:
            raise UpstreamError(
                f"Entra ID answered without an access token for deployment {self.deployment}"
            )
        return AccessToken(value, expires_in)


def _oauth_error(body: bytes) -> str | None:
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return error if isinstance(error, str) and _OAUTH_ERROR.match(error) else None
