"""Building the ``httpx.Auth`` of a deployment from its configured credentials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway_core.api import Timeouts, UpstreamClient
from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import BearerTokenAuth, TokenCache
from gateway_vertex.auth.adc import ApplicationDefaultTokens, TokenSource
from gateway_vertex.auth.keys import ServiceAccountKey, parse_credentials_file, service_account_key
from gateway_vertex.auth.service_account import KeyUnavailable, ServiceAccountTokens
from gateway_vertex.config import ApplicationDefaultCredentials, ServiceAccountCredentials

__all__ = ["google_auth", "token_source"]


def google_auth(
    credentials: ServiceAccountCredentials | ApplicationDefaultCredentials,
    http: UpstreamClient,
    timeouts: Timeouts,
    deployment: str,
) -> BearerTokenAuth:
    """The ``httpx.Auth`` for one deployment: built once, shared by all its requests."""
    requests = TokenRequests(http, timeouts, deployment)
    return BearerTokenAuth(TokenCache(token_source(credentials, requests)))


def token_source(
    credentials: ServiceAccountCredentials | ApplicationDefaultCredentials,
    requests: TokenRequests,
) -> TokenSource:
    if isinstance(credentials, ApplicationDefaultCredentials):
        return ApplicationDefaultTokens(credentials, requests)
    return ServiceAccountTokens(
        key_loader(credentials), credentials.token_url, credentials.scopes, requests
    )


def key_loader(credentials: ServiceAccountCredentials) -> Callable[[], ServiceAccountKey]:
    """Reads the configured key; called in a worker thread before each token request."""
    inline, path = credentials.key, credentials.key_file

    def load() -> ServiceAccountKey:
        if inline is not None:
            text: str | bytes = inline.get_secret_value()
        else:
            assert path is not None
            text = _read(path)
        try:
            return service_account_key(parse_credentials_file(text))
        except ValueError as problem:
            raise KeyUnavailable(f"the service-account key {problem}") from None

    return load


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise KeyUnavailable("the service-account key_file cannot be read") from None
