"""Bedrock error responses mapped to the gateway's errors, statuses and Retry-After."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from gateway_bedrock.errors import BedrockFault, read_fault

from gateway_core.api import InvalidRequest, UpstreamError, UpstreamRateLimited, UpstreamTimeout

NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def mapped(status: int, kind: str | None, message: str | None = None) -> Any:
    headers = {"x-amzn-errortype": kind + NAMESPACE} if kind else {}
    body = orjson.dumps({"message": message}) if message else b""
    return read_fault(headers, body).to_error(status, "bedrock-eu")


@pytest.mark.parametrize(
    ("status", "kind", "message", "cls", "client_status", "code", "retry_after"),
    [
        (
            429,
            "ThrottlingException",
            "Too many requests, please wait.",
            UpstreamRateLimited,
            429,
            "rate_limit_exceeded",
            "2",
        ),
        (429, None, None, UpstreamRateLimited, 429, "rate_limit_exceeded", "2"),
        (
            400,
            "ServiceQuotaExceededException",
            "Quota hit.",
            UpstreamRateLimited,
            429,
            "insufficient_quota",
            None,
        ),
        (
            429,
            "ModelNotReadyException",
            "Model is loading.",
            UpstreamError,
            503,
            "service_unavailable",
            "5",
        ),
        (
            503,
            "ServiceUnavailableException",
            "Busy.",
            UpstreamError,
            503,
            "service_unavailable",
            "2",
        ),
        (
            400,
            "ValidationException",
            "messages.0: blank text",
            InvalidRequest,
            400,
            "invalid_request",
            None,
        ),
        (
            400,
            "ValidationException",
            "Input is too long for requested model.",
            InvalidRequest,
            400,
            "context_length_exceeded",
            None,
        ),
        (
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
            UpstreamError,
            502,
            "upstream_not_found",
            None,
        ),
        (
            400,
            "ValidationException",
            "Invocation of model ID x with on-demand throughput isn\u2019t supported.",
            UpstreamError,
            502,
            "upstream_not_found",
            None,
        ),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model.",
            UpstreamError,
            502,
            "upstream_authentication_error",
            None,
        ),
        (
            403,
            "UnrecognizedClientException",
            "The security token is invalid.",
            UpstreamError,
            502,
            "upstream_authentication_error",
            None,
        ),
        (403, None, None, UpstreamError, 502, "upstream_authentication_error", None),
        (
            404,
            "ResourceNotFoundException",
            "No such profile.",
            UpstreamError,
            502,
            "upstream_not_found",
            None,
        ),
        (408, "ModelTimeoutException", "Too slow.", UpstreamTimeout, 504, "timeout", None),
        (
            424,
            "ModelErrorException",
            "The model crashed.",
            UpstreamError,
            502,
            "upstream_error",
            None,
        ),
        (500, "InternalServerException", "Oops.", UpstreamError, 502, "upstream_error", None),
    ],
)
def test_mapping(
    status: int,
    kind: str | None,
    message: str | None,
    cls: type,
    client_status: int,
    code: str,
    retry_after: str | None,
) -> None:
    error = mapped(status, kind, message)
    assert type(error) is cls
    assert (error.status, error.code) == (client_status, code)
    assert error.headers.get("Retry-After") == retry_after


def test_validation_messages_are_relayed_and_not_retried() -> None:
    error = mapped(400, "ValidationException", "The text field at messages.1 is blank.")
    assert error.message == "The text field at messages.1 is blank."
    assert not getattr(error, "retryable", False)


def test_signature_failures_never_relay_what_aws_said() -> None:
    said = (
        "The request signature we calculated does not match. The String-to-sign should have "
        "been 'AWS4-HMAC-SHA256 ... x-amz-security-token:IQoJb3JpZ2luSECRET'"
    )
    error = mapped(403, "InvalidSignatureException", said)
    assert "IQoJb3JpZ2lu" not in error.message
    assert "invalidsignatureexception" in error.message
    assert error.retryable


def test_the_exception_name_is_read_from_every_place_aws_puts_it() -> None:
    assert read_fault({}, b'{"__type":"com.amazon.coral#ThrottlingException"}').kind == (
        "throttlingexception"
    )
    assert read_fault({}, b'{"code":"ValidationException","Message":"m"}') == BedrockFault(
        "validationexception", "m"
    )
    assert read_fault({}, b"<html>gateway timeout</html>") == BedrockFault("", None)


def test_an_expired_token_is_recognised() -> None:
    fault = read_fault({"x-amzn-errortype": "ExpiredTokenException"}, b'{"message":"expired"}')
    assert fault.credentials_expired
    assert fault.to_error(403, "d").code == "upstream_authentication_error"
