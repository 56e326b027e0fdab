"""SigV4 through botocore, wrapped as an httpx.Auth: a known vector, and the path's encoding."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from gateway_bedrock.adapter import model_url
from gateway_bedrock.config import BedrockConfig
from gateway_bedrock.credentials import CredentialCache
from gateway_bedrock.signing import SigV4Signer, sign

# AWS's documentation example credentials.
EXAMPLE = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
WHEN = datetime.datetime(2025, 1, 15, 12, 0, 0)
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
BODY = (
    b'{"messages":[{"role":"user","content":[{"text":"Hello"}]}],'
    b'"inferenceConfig":{"maxTokens":256}}'
)
# The vector: botocore's SigV4Auth over the request above, at WHEN, in us-east-1.
EXPECTED_SIGNATURE = "2c6896d76e0655b63ca68366cba7b08592a6c4079aac6d4219bd5f36265f9616"


def converse_request(model: str = HAIKU, host: str = "bedrock-runtime.us-east-1.amazonaws.com"):
    config = BedrockConfig(model=model, region="us-east-1", endpoint_url=f"https://{host}")
    return httpx.Request(
        "POST",
        model_url(config, "converse"),
        headers={"Content-Type": "application/json"},
        content=BODY,
    )


def frozen_clock():
    return mock.patch("botocore.auth.get_current_datetime", return_value=WHEN)


def test_the_known_vector() -> None:
    request = converse_request()
    with frozen_clock():
        sign(request, EXAMPLE, "us-east-1")
    assert request.headers["x-amz-date"] == "20250115T120000Z"
    assert request.headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/bedrock/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={EXPECTED_SIGNATURE}"
    )
    assert "x-amz-security-token" not in request.headers


def test_the_signature_by_the_published_algorithm() -> None:
    """An independent SigV4 over a canonical request that encodes the path twice."""
    request = converse_request()
    with frozen_clock():
        sign(request, EXAMPLE, "us-east-1")
    canonical = "\n".join(
        [
            "POST",
            "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse",
            "",
            "content-type:application/json",
            "host:bedrock-runtime.us-east-1.amazonaws.com",
            "x-amz-date:20250115T120000Z",
            "",
            "content-type;host;x-amz-date",
            hashlib.sha256(BODY).hexdigest(),
        ]
    )
    scope = "20250115/us-east-1/bedrock/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            "20250115T120000Z",
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + EXAMPLE.secret_key).encode()
    for part in ("20250115", "us-east-1", "bedrock", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert request.headers["authorization"].endswith(f"Signature={signature}")
    assert signature == EXPECTED_SIGNATURE


@pytest.mark.parametrize(
    ("model", "wire", "canonical"),
    [
        (HAIKU, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/", "v1%253A0/"),
        (
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/",
            "/model/us.anthropic.claude-sonnet-4-20250514-v1%253A0/",
        ),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/x1y2z3",
            "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3A"
            "application-inference-profile%2Fx1y2z3/",
            "/model/arn%253Aaws%253Abedrock%253Aeu-west-1%253A123456789012%253A"
            "application-inference-profile%252Fx1y2z3/",
        ),
    ],
    ids=["model-id", "inference-profile", "arn"],
)
def test_ids_are_one_encoded_path_segment_and_signed_encoded_again(
    model: str, wire: str, canonical: str
) -> None:
    request = converse_request(model)
    assert request.url.raw_path.decode().startswith(wire)
    with frozen_clock():
        sign(request, EXAMPLE, "us-east-1")
    # botocore's own signer, given the same wire request, agrees and shows its canonical form.
    aws = AWSRequest(
        "POST", str(request.url), data=BODY, headers={"Content-Type": "application/json"}
    )
    signer = SigV4Auth(EXAMPLE, "bedrock", "us-east-1")
    with frozen_clock():
        signer.add_auth(aws)
    assert aws.headers["Authorization"] == request.headers["authorization"]
    assert canonical in signer.canonical_request(aws).splitlines()[1]


def test_temporary_credentials_add_a_signed_security_token() -> None:
    request = converse_request()
    with frozen_clock():
        sign(request, EXAMPLE._replace(token="session-token-abc"), "us-east-1")
    assert request.headers["x-amz-security-token"] == "session-token-abc"
    assert (
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"
        in request.headers["authorization"]
    )


def test_transport_headers_are_left_unsigned() -> None:
    request = converse_request()
    request.headers["Accept"] = "application/json"
    sign(request, EXAMPLE, "us-east-1")
    assert "content-length" in request.headers
    signed = request.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "accept;content-type;host;x-amz-date"


def test_the_auth_flow_signs_with_the_cached_credentials() -> None:
    calls = []

    def source() -> Credentials:
        calls.append(1)
        return Credentials("AKIDFLOW", "flow-secret", "flow-token")

    signer = SigV4Signer(CredentialCache(source, "d1"), "eu-central-1")

    async def run() -> list[httpx.Request]:
        signed = []
        for _ in range(3):
            flow = signer.async_auth_flow(converse_request())
            signed.append(await flow.__anext__())
        return signed

    signed = asyncio.run(run())
    assert len(calls) == 1
    for request in signed:
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFLOW/")
        assert "/eu-central-1/bedrock/aws4_request" in request.headers["authorization"]
        assert request.headers["x-amz-security-token"] == "flow-token"
    with pytest.raises(RuntimeError):
        next(signer.sync_auth_flow(converse_request()))
