"""Service-account sign-in: a signed JWT assertion exchanged for an access token (RFC 7523).

PyJWT (with ``cryptography``) loads the PEM key and signs with RS256; the exchange itself is
one form POST over the shared client. Reading the key file, loading the key and signing are
blocking work, so they run in a thread, once per token (about once an hour), never on the
event loop. The key file is read anew for each token, so a rotated key is picked up without a
restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import jwt

from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import AccessToken
from gateway_vertex.auth.keys import ServiceAccountKey

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Google refuses assertions that are valid for longer than an hour.
ASSERTION_LIFETIME = 3600
SERVICE = "Google's token endpoint"


class KeyUnavailable(Exception):
    """The key could not be read or loaded; the message names no secret."""


def signed_assertion(
    key: ServiceAccountKey, audience: str, scopes: Sequence[str], now: float
) -> str:
    """The RS256-signed JWT that asks ``audience`` for a token with ``scopes``."""
    issued = int(now)
    claims = {
        "iss": key.client_email,
        "scope": " ".join(scopes),
        "aud": audience,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    headers = {"kid": key.private_key_id} if key.private_key_id else None
    try:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
    except (ValueError, TypeError, jwt.exceptions.PyJWTError):
        raise KeyUnavailable("the service-account private_key could not be loaded") from None


class ServiceAccountTokens:
    """Fetches one access token for a service account; a ``TokenCache`` calls it."""

    def __init__(
        self,
        load_key: Callable[[], ServiceAccountKey],
        token_url: str | None,
        scopes: Sequence[str],
        requests: TokenRequests,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.load_key = load_key
        self.token_url = token_url
        self.scopes = tuple(scopes)
        self.requests = requests
        self.clock = clock

    async def __call__(self) -> AccessToken:
        try:
            url, assertion = await asyncio.to_thread(self._sign)
        except KeyUnavailable as problem:
            raise self.requests.failed(str(problem)) from None
        return await self.requests.post_form(
            url, {"grant_type": JWT_BEARER, "assertion": assertion}, SERVICE
        )

    def _sign(self) -> tuple[str, str]:
        key = self.load_key()
        # The assertion's audience is the endpoint it is sent to, overridden or not.
        url = self.token_url or key.token_uri
        return url, signed_assertion(key, url, self.scopes, self.clock())
