"""Bedrock's errors as the gateway's, before a stream starts and inside one.

Bedrock names the exception in the ``x-amzn-ErrorType`` header (``ThrottlingException:<ns>``)
and puts only a ``message`` in the body; in a stream, an exception arrives as a frame whose
``:exception-type`` header is the same name in lower camel case. Both are read here and
mapped by name, falling back to the HTTP status.

Bedrock sends no ``Retry-After``, so throttling and unavailability get a synthesised one.
Messages of signature and credential failures are never relayed: AWS may quote the string
to sign there, session token included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_bedrock.eventstream import EventMessage
from gateway_core.api import (
    GatewayError,
    InvalidRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

#: Seconds a client is told to wait after Bedrock throttled it or was unavailable.
THROTTLED_WAIT = 2.0
#: Seconds to wait for a model that is still being loaded (Bedrock retries these itself).
MODEL_NOT_READY_WAIT = 5.0

CREDENTIAL_FAULTS = frozenset(
    {
        "accessdeniedexception",
        "unrecognizedclientexception",
        "invalidsignatureexception",
        "incompletesignatureexception",
        "expiredtokenexception",
        "missingauthenticationtokenexception",
        "invalidclienttokenid",
    }
)
_MODEL_UNUSABLE = re.compile(
    r"model identifier is invalid|on-demand throughput|inference profile|"
    r"end of its life|model is not supported",
    re.IGNORECASE,
)
_TOO_LONG = re.compile(
    r"too long|too many (?:input |total )?tokens|context (?:window|length)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class BedrockFault:
    """An error as Bedrock reported it: the exception's name (lower case) and message."""

    kind: str
    message: str | None

    @property
    def credentials_expired(self) -> bool:
        return self.kind == "expiredtokenexception"

    def to_error(self, status: int, deployment: str) -> GatewayError:
        """The gateway's error for this fault on ``deployment`` (``status`` when unnamed)."""
        kind, said = self.kind, self.message
        if kind in CREDENTIAL_FAULTS or (not kind and status in (401, 403)):
            return _credentials_refused(kind, deployment)
        if kind == "throttlingexception" or (not kind and status == 429):
            return UpstreamRateLimited(
                said or f"AWS Bedrock is throttling deployment {deployment}",
                retry_after=THROTTLED_WAIT,
            )
        if kind == "servicequotaexceededexception":
            return UpstreamRateLimited(
                said or f"Deployment {deployment} exceeded an AWS Bedrock service quota",
                code="insufficient_quota",
            )
        if kind == "modelnotreadyexception":
            return UpstreamError(
                f"The model of deployment {deployment} is not ready yet on AWS Bedrock",
                status=503,
                code="service_unavailable",
                retry_after=MODEL_NOT_READY_WAIT,
            )
        if kind == "serviceunavailableexception" or (not kind and status == 503):
            return UpstreamError(
                said or "AWS Bedrock is unavailable",
                status=503,
                code="service_unavailable",
                retry_after=THROTTLED_WAIT,
            )
        if kind == "modeltimeoutexception" or (not kind and status == 408):
            return UpstreamTimeout(f"The model of deployment {deployment} timed out on Bedrock")
        if kind == "resourcenotfoundexception" or (not kind and status == 404):
            return UpstreamError(
                f"Deployment {deployment} names a model or resource AWS Bedrock does not have",
                code="upstream_not_found",
            )
        if kind == "validationexception" or (not kind and status in (400, 413, 422)):
            return _invalid(said, status, deployment)
        return UpstreamError(_failed(deployment, kind, status, said))


def _credentials_refused(kind: str, deployment: str) -> UpstreamError:
    if kind == "accessdeniedexception":
        why = "is not allowed to invoke its model (check the IAM policy and model access)"
    else:
        why = "was refused by AWS: its credentials or signature are not valid"
    return UpstreamError(
        f"Deployment {deployment} {why} ({kind or 'HTTP 403'})",
        code="upstream_authentication_error",
    )


def _invalid(message: str | None, status: int, deployment: str) -> GatewayError:
    text = message or f"AWS Bedrock rejected the request (HTTP {status})"
    if _MODEL_UNUSABLE.search(text):
        # The deployment's model id is wrong for this account or region: another may work.
        return UpstreamError(
            f"Deployment {deployment} cannot invoke its model: {text}", code="upstream_not_found"
        )
    if _TOO_LONG.search(text):
        return InvalidRequest(text, code="context_length_exceeded", status=400)
    return InvalidRequest(text, status=400 if status not in (413, 422) else status)


def _failed(deployment: str, kind: str, status: int, message: str | None) -> str:
    name = f" ({kind})" if kind else f" (HTTP {status})"
    detail = f": {message}" if message else ""
    return f"AWS Bedrock failed for deployment {deployment}{name}{detail}"


def read_fault(headers: Mapping[str, str], body: bytes) -> BedrockFault:
    """The fault in an HTTP error response, from its headers and JSON body."""
    parsed = _json_object(body)
    kind = headers.get("x-amzn-errortype") or parsed.get("__type") or parsed.get("code") or ""
    return BedrockFault(_kind(kind), _message(parsed))


def stream_fault(message: EventMessage) -> BedrockFault:
    """The fault an ``exception`` or ``error`` frame of an event stream carries."""
    if message.message_type == "error":
        code = message.headers.get(":error-code")
        said = message.headers.get(":error-message")
        return BedrockFault(_kind(code or ""), said if isinstance(said, str) else None)
    kind = message.headers.get(":exception-type")
    return BedrockFault(_kind(kind or ""), _message(_json_object(message.payload)))


def stream_status(fault: BedrockFault) -> int:
    """The HTTP status an in-stream fault would have had (they come without one)."""
    return {
        "throttlingexception": 429,
        "validationexception": 400,
        "serviceunavailableexception": 503,
        "modeltimeoutexception": 408,
    }.get(fault.kind, 500)


def _kind(value: Any) -> str:
    """``ThrottlingException:<ns>`` or ``<ns>#ThrottlingException`` → ``throttlingexception``."""
    text = value if isinstance(value, str) else ""
    return text.split(":", 1)[0].rsplit("#", 1)[-1].strip().lower()


def _message(parsed: dict[str, Any]) -> str | None:
    for key in ("message", "Message"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
