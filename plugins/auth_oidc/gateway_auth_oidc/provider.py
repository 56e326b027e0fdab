"""The identity provider as the gateway sees it: discovery, the authorization URL, the code
exchange and ID-token verification.

Discovery and keys are read lazily and cached, so a provider that is down does not stop the
gateway from starting (only sign-in waits for it). An unknown key id triggers one re-read of the
key set: providers rotate keys. ID tokens must be signed with an asymmetric algorithm the
provider announces; ``none`` and HMAC (keyed with the client secret) are never accepted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DISCOVERY_PATH = "/.well-known/openid-configuration"
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ProviderError(Exception):
    """The provider or its answer cannot be trusted; the message is for the log, not clients."""


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    scopes: tuple[str, ...]


def is_acceptable_url(url: str) -> bool:
    """https, or http to this machine (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


class IdentityProvider:
    def __init__(
        self, client: ClientRegistration, *, timeout: float, metadata_ttl: float, leeway: float
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.metadata_ttl = metadata_ttl
        self.leeway = leeway
        self._http: httpx.AsyncClient | None = None
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    # -- discovery ----------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > self.metadata_ttl
            if self._metadata is None or stale:
                self._metadata = await self._discover()
                self._keys = None
                self._fetched_at = time.monotonic()
            return self._metadata

    async def _discover(self) -> dict[str, Any]:
        document = await self._get_json(self.client.issuer.rstrip("/") + DISCOVERY_PATH)
        missing = [key for key in REQUIRED_METADATA if not isinstance(document.get(key), str)]
        if missing:
            raise ProviderError(f"the discovery document lacks {', '.join(missing)}")
        if document["issuer"] != self.client.issuer:
            raise ProviderError("the discovery document names a different issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not is_acceptable_url(document[key]):
                raise ProviderError(f"the provider's {key} is not an https URL")
        return document

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = await self.metadata()
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))
        return self._keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        assert self._http is not None, "open() has not run"
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            value = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(f"reading {url} failed: {type(exc).__name__}") from None
        if not isinstance(value, dict):
            raise ProviderError(f"{url} did not answer a JSON object")
        return value

    # -- the authorization code flow ----------------------------------------------------------

    def _oauth_client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
            scope=" ".join(self.client.scopes),
            redirect_uri=self.client.redirect_url,
            code_challenge_method="S256",
            timeout=self.timeout,
        )

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        async with self._oauth_client() as oauth:
            url, _ = oauth.create_authorization_url(
                endpoint, state=state, code_verifier=code_verifier, nonce=nonce
            )
        return url

    async def exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        endpoint = (await self.metadata())["token_endpoint"]
        async with self._oauth_client() as oauth:
            try:
                token = await oauth.fetch_token(
                    endpoint,
                    code=code,
                    code_verifier=code_verifier,
                    grant_type="authorization_code",
                )
            except Exception as exc:  # authlib raises several kinds; none may leak to clients
                raise ProviderError(f"the code exchange failed: {type(exc).__name__}") from None
        if not isinstance(token.get("id_token"), str):
            raise ProviderError("the token response has no id_token")
        return dict(token)

    # -- the ID token -------------------------------------------------------------------------

    async def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        """Signature, issuer, audience, expiry and nonce, or :class:`ProviderError`."""
        metadata = await self.metadata()
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in announced if alg in ASYMMETRIC_ALGORITHMS]
        if not algorithms:
            raise ProviderError("the provider announces no acceptable ID-token algorithm")
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(
                    id_token, await self._key_set(refresh=True), algorithms=algorithms
                )
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": self.client.issuer},
                    "aud": {"essential": True, "value": self.client.client_id},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                {"nonce": nonce, "client_id": self.client.client_id, "access_token": access_token},
            )
            claims.validate(leeway=int(self.leeway))
        except JoseError as exc:
            raise ProviderError(f"the ID token was refused: {exc.error}") from None
        except ValueError as exc:  # malformed tokens
            raise ProviderError(f"the ID token is malformed: {type(exc).__name__}") from None
        return dict(claims)
