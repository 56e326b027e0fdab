"""Vertex AI's error answers (Google's ``google.rpc.Status`` envelope) as gateway errors.

Vertex sends no ``Retry-After`` on 429 / ``RESOURCE_EXHAUSTED``. Clients and the router still
need a wait, so one is synthesised: the header if a proxy added one, else the ``RetryInfo``
detail if Google gave one, else the deployment's ``default_retry_after``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_core.api import (
    GatewayError,
    InvalidRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from gateway_core.builtins.openai_provider import map_openai_style_error
from gateway_core.http import parse_retry_after

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
_TOO_LONG = re.compile(
    r"token count.*exceeds the maximum|exceeds the maximum number of tokens", re.I
)


@dataclass(frozen=True, slots=True)
class GoogleError:
    code: int | None = None
    message: str | None = None
    status: str | None = None
    reason: str | None = None
    retry_delay: float | None = None


def read_google_error(body: bytes | Any) -> GoogleError:
    """The fields of an error body (also the array form that non-SSE streams use)."""
    if isinstance(body, bytes | str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return GoogleError()
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GoogleError()
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    return GoogleError(
        code=error["code"] if isinstance(error.get("code"), int) else None,
        message=_text(error.get("message")),
        status=_text(error.get("status")),
        reason=next(
            (_text(d.get("reason")) for d in details if d.get("@type") == ERROR_INFO), None
        ),
        retry_delay=next(
            (_seconds(d.get("retryDelay")) for d in details if d.get("@type") == RETRY_INFO), None
        ),
    )


def map_vertex_error(
    status: int,
    error: GoogleError,
    headers: Mapping[str, str],
    deployment: str,
    default_retry_after: float,
) -> GatewayError:
    """The gateway's error for a Vertex error status (or an error event inside a stream)."""
    if status == 429 or error.status == "RESOURCE_EXHAUSTED":
        wait = parse_retry_after(headers) or error.retry_delay or default_retry_after
        return UpstreamRateLimited(
            error.message or f"Deployment {deployment} is rate limited by Vertex AI",
            retry_after=wait,
        )
    if status == 400 and error.message and _TOO_LONG.search(error.message):
        return InvalidRequest(error.message, code="context_length_exceeded", param="messages")
    if status == 403:
        return UpstreamError(_forbidden(deployment, error), code="upstream_authentication_error")
    if status == 504 or error.status == "DEADLINE_EXCEEDED":
        return UpstreamTimeout(f"Deployment {deployment} timed out at Vertex AI")
    return map_openai_style_error(
        status,
        b"",
        headers,
        deployment,
        fields=(error.message, "invalid_request" if status < 500 else None, None),
    )


def _forbidden(deployment: str, error: GoogleError) -> str:
    if error.reason == "SERVICE_DISABLED":
        return (
            f"Deployment {deployment}: the Vertex AI API is not enabled in its Google Cloud "
            "project (HTTP 403)"
        )
    return (
        f"Deployment {deployment} was refused by Vertex AI (HTTP 403): its credentials need the "
        "Vertex AI User role (roles/aiplatform.user) on the project"
    )


def _seconds(value: Any) -> float | None:
    match = _DURATION.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
