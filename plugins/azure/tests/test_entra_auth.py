"""Entra ID tokens over real HTTP: the form sent, reuse and refresh, and refusals mapped."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from gateway_azure.config import EntraIdConfig
from gateway_azure.entra import ClientCredentials

from gateway_core.api import Timeouts, UpstreamClient, UpstreamError
from gateway_core.testing import Exchange, ReplayUpstream
from gateway_core.tokens import TokenCache

SECRET = "entra-test-secret-8a7c6b5d"
TENANT = "4f1c2b9e-7d3a-4e58-9b60-2c8d5a1e7f43"
TIMEOUTS = Timeouts(connect=2, read=5, total=5)
AUTH = "upstream_authentication_error"


def token_endpoint(response: dict[str, Any], **request: Any) -> Exchange:
    return Exchange.model_validate(
        {
            "request": {"method": "POST", "path": f"/{TENANT}/oauth2/v2.0/token", **request},
            "response": response,
            "times": None,
        }
    )


def run_against(
    exchange: Exchange, test: Callable[[ClientCredentials], Awaitable[None]]
) -> list[Any]:
    """Run ``test`` with credentials whose authority is a replay server playing ``exchange``."""
    with ReplayUpstream() as upstream:
        armed = upstream.arm([exchange])
        config = EntraIdConfig(
            tenant_id=TENANT, client_id="app-7", client_secret=SECRET, authority_host=upstream.url
        )

        async def main() -> None:
            http = UpstreamClient()
            await http.open()
            try:
                await test(ClientCredentials(config, http, TIMEOUTS, "gpt-4o/0"))
            finally:
                await http.close()

        asyncio.run(main())
    assert armed.problems() == []
    return armed.received[0]


def test_the_token_request_is_a_client_credentials_form() -> None:
    exchange = token_endpoint(
        {"json": {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-1"}},
        headers={"content-type": "application/x-www-form-urlencoded"},
        form={
            "grant_type": "client_credentials",
            "client_id": "app-7",
            "client_secret": SECRET,
            "scope": "https://cognitiveservices.azure.com/.default",
        },
    )

    async def fetch(credentials: ClientCredentials) -> None:
        token = await credentials()
        assert (token.value, token.expires_in) == ("tok-1", 3599)
        assert "tok-1" not in repr(token)

    assert len(run_against(exchange, fetch)) == 1


def test_a_token_is_reused_then_refreshed_before_it_expires() -> None:
    numbers = itertools.count(1)

    def issue() -> bytes:
        return orjson.dumps({"access_token": f"tok-{next(numbers)}", "expires_in": "3600"})

    now = [1000.0]

    async def use(credentials: ClientCredentials) -> None:
        tokens = TokenCache(credentials, clock=lambda: now[0])
        assert await tokens.get() == "tok-1"
        now[0] += 3299  # still more than five minutes left
        assert await tokens.get() == "tok-1"
        now[0] += 2  # inside the last five minutes: refreshed ahead of expiry
        assert await tokens.get() == "tok-2"

    received = run_against(token_endpoint({"builder": issue}), use)
    assert len(received) == 2


@pytest.mark.parametrize(
    ("status", "body", "code", "detail"),
    [
        (
            401,
            {"error": "invalid_client", "error_description": f"bad {SECRET}"},
            "upstream_authentication_error",
            "HTTP 401, invalid_client",
        ),
        (
            400,
            {"error": "Not An OAuth Code <script>"},
            "upstream_authentication_error",
            "(HTTP 400)",
        ),
        (
            503,
            {"error": "temporarily_unavailable"},
            "upstream_error",
            "HTTP 503, temporarily_unavailable",
        ),
        (200, {"token_type": "Bearer"}, "upstream_error", "without an access token"),
    ],
)
def test_refusals_become_gateway_errors_that_repeat_nothing_secret(
    status: int, body: dict[str, Any], code: str, detail: str
) -> None:
    async def fetch(credentials: ClientCredentials) -> None:
        with pytest.raises(UpstreamError) as caught:
            await credentials()
        assert caught.value.code == code
        assert detail in caught.value.message
        assert "gpt-4o/0" in caught.value.message
        assert (
            SECRET not in caught.value.message and "error_description" not in caught.value.message
        )

    run_against(token_endpoint({"status": status, "json": body}), fetch)
