"""The adapter's own decisions that no recorded exchange shows: URLs, auth choice, expiry."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.credentials import Credentials
from gateway_bedrock.adapter import BedrockAdapter
from gateway_bedrock.api_key import ApiKeyAuth
from gateway_bedrock.config import BedrockConfig
from gateway_bedrock.signing import SigV4Signer

from gateway_core.api import AdapterContext, UpstreamClient
from gateway_core.config import Timeouts

PROFILE_ARN = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x1"


def adapter(**keys: Any) -> BedrockAdapter:
    config = BedrockConfig(model=PROFILE_ARN, region="eu-west-1", **keys)
    context = AdapterContext("bedrock-eu", "claude", UpstreamClient(), Timeouts())
    return BedrockAdapter(config, context)


class Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers


def test_urls_carry_the_arn_as_one_encoded_segment() -> None:
    built = adapter()
    root = "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
    segment = "arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Fx1"
    assert built.converse_url == f"{root}{segment}/converse"
    assert built.stream_url == f"{root}{segment}/converse-stream"
    assert built.invoke_url == f"{root}{segment}/invoke"


def test_an_api_key_replaces_sigv4_and_stays_hidden() -> None:
    keyed = adapter(api_key="ABSK-secret-key-123")
    assert isinstance(keyed.auth, ApiKeyAuth)
    assert keyed.credentials is None
    assert "ABSK" not in repr(keyed.auth)
    assert "authorization" not in {name.lower() for name in keyed.headers}
    assert isinstance(adapter().auth, SigV4Signer)


def test_an_expired_token_answer_drops_the_cached_credentials() -> None:
    signed = adapter(aws_access_key_id="AKID1", aws_secret_access_key="secret-1")
    cache = signed.credentials
    assert cache is not None
    issued = iter(["AKIDFIRST", "AKIDSECOND"])
    cache._source = lambda: Credentials(next(issued), "s")  # a chain that rotated meanwhile

    async def run() -> list[str]:
        first = (await cache.get()).access_key
        error = signed.map_error(
            Response(403, {"x-amzn-errortype": "ExpiredTokenException"}),
            b'{"message":"The security token included in the request is expired"}',
        )
        assert error.code == "upstream_authentication_error"
        assert "included in the request" not in error.message, "AWS's text is not relayed"
        return [first, (await cache.get()).access_key]

    assert asyncio.run(run()) == ["AKIDFIRST", "AKIDSECOND"]


def test_other_refusals_keep_the_credentials() -> None:
    signed = adapter(aws_access_key_id="AKID1", aws_secret_access_key="secret-1")
    cache = signed.credentials
    assert cache is not None
    calls = []

    def source() -> Credentials:
        calls.append(1)
        return Credentials("AKID1", "secret-1")

    cache._source = source

    async def run() -> None:
        await cache.get()
        signed.map_error(Response(403, {"x-amzn-errortype": "AccessDeniedException"}), b"{}")
        await cache.get()

    asyncio.run(run())
    assert len(calls) == 1
