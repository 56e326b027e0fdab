"""Bedrock API keys, sent as ``Authorization: Bearer`` through an auth flow.

The key could be a static header, but requests without an auth flow travel over the gateway's
client with their URL normalised, and normalising turns the model id's ``%3A`` back into ``:``.
Going through a flow keeps the wire path exactly as built, as it is for SigV4-signed requests.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx
from pydantic import SecretStr


class ApiKeyAuth(httpx.Auth):
    """Adds the deployment's Bedrock API key to every request."""

    def __init__(self, key: SecretStr) -> None:
        self._header = f"Bearer {key.get_secret_value()}"

    def __repr__(self) -> str:
        return "ApiKeyAuth(<hidden>)"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = self._header
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = self._header
        yield request
