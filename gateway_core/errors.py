"""Domain errors and their one mapping to the OpenAI error shape.

Code anywhere in the gateway (core or plugin) raises a :class:`GatewayError`; only
:func:`error_body` and the app's error handler turn it into HTTP. Messages are written for API
clients: they never contain secrets, upstream credentials or tracebacks.
"""

from __future__ import annotations

from typing import Any

import orjson


class GatewayError(Exception):
    """An error a client should see, with the status and OpenAI ``type``/``code`` to send."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        #: Seconds the client should wait before trying again, sent as ``Retry-After``.
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.setdefault("Retry-After", retry_after_header(retry_after))

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


class InvalidRequest(GatewayError):
    """The request body or parameters are wrong (400)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(GatewayError):
    """No credentials, or credentials that identify nobody (401)."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """The caller is known but may not do this (403)."""

    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(GatewayError):
    """The thing asked for does not exist (404)."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    """The public model name is not configured (404 ``model_not_found``)."""

    code = "model_not_found"


class Conflict(GatewayError):
    """The change contradicts the current state (409): a duplicate name, a team in use."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(GatewayError):
    """Too many requests; ``Retry-After`` is sent when the wait is known (429)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class QuotaExceeded(RateLimited):
    """A spend budget is used up (429 ``insufficient_quota``, as OpenAI answers)."""

    type = "insufficient_quota"
    code = "insufficient_quota"


class UpstreamError(GatewayError):
    """The provider failed in a way that is not the client's fault (502 by default).

    ``retryable`` tells the router whether another deployment may succeed where this one failed.
    """

    status = 502
    type = "api_error"
    code = "upstream_error"

    def __init__(self, message: str, *, retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retryable = retryable


class UpstreamRateLimited(UpstreamError):
    """The provider asked us to slow down (429); another deployment may still answer."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    code = "timeout"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


class InternalError(GatewayError):
    """An unexpected failure; the message is generic, the details go to the log only."""

    status = 500
    type = "server_error"
    code = "internal_error"


def retry_after_header(seconds: float) -> str:
    """Format a wait as an integer number of seconds, rounded up and never below one."""
    whole = int(seconds)
    if whole < seconds:
        whole += 1
    return str(max(whole, 1))


def error_body(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> bytes:
    """Serialise an error in the OpenAI shape without constructing an exception."""
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})
