"""The small shape checks every part of the OpenAI contract is built from.

Each check appends sentences to ``problems`` instead of raising, so that one reply reports all
of its mistakes at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_core.contract.matching import shown

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
ERROR_KEYS = frozenset({"message", "type", "param", "code"})
# The error types an OpenAI client may meet with each status (the SDKs dispatch on status).
ERROR_TYPES: dict[int, frozenset[str]] = {
    400: frozenset({"invalid_request_error"}),
    401: frozenset({"authentication_error", "invalid_request_error"}),
    403: frozenset({"permission_error"}),
    404: frozenset({"invalid_request_error", "not_found_error"}),
    408: frozenset({"timeout_error"}),
    409: frozenset({"invalid_request_error", "conflict_error"}),
    413: frozenset({"invalid_request_error"}),
    422: frozenset({"invalid_request_error"}),
    429: frozenset({"rate_limit_error"}),
    500: frozenset({"server_error", "api_error"}),
    502: frozenset({"api_error", "server_error"}),
    503: frozenset({"api_error", "server_error"}),
    504: frozenset({"timeout_error"}),
}


@dataclass(slots=True)
class Reply:
    """A response as the client received it; ``headers`` must ignore case (httpx.Headers)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(slots=True)
class Summary:
    """What a reply amounts to, for comparison with a case's expectations."""

    body: Any = None
    content: str | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    stream_error: dict[str, Any] | None = None
    embeddings: int | None = None
    dimensions: int | None = None


def check_error_object(value: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict):
        problems.append(f"{where}: expected {{'error': {{...}}}}, got {shown(value)}")
        return None
    if set(error) != ERROR_KEYS:
        problems.append(f"{where}.error: keys are {sorted(error)}, expected {sorted(ERROR_KEYS)}")
    message = error.get("message")
    if not isinstance(message, str) or not message:
        problems.append(f"{where}.error.message: expected a non-empty string")
    elif "Traceback" in message:
        problems.append(f"{where}.error.message: contains a traceback")
    if not isinstance(error.get("type"), str):
        problems.append(f"{where}.error.type: expected a string")
    for key in ("code", "param"):
        if not isinstance(error.get(key), str | None):
            problems.append(f"{where}.error.{key}: expected a string or null")
    return error


def check_usage(
    value: Any, where: str, problems: list[str], *, completion: bool = True
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object with token counts")
        return None
    keys = (
        ("prompt_tokens", "completion_tokens", "total_tokens")
        if completion
        else (
            "prompt_tokens",
            "total_tokens",
        )
    )
    counts = {key: value.get(key) for key in keys}
    bad = [key for key, count in counts.items() if not (whole(count) and count >= 0)]
    if bad:
        problems.append(f"{where}: {', '.join(bad)} must be whole numbers of tokens")
    elif (
        completion
        and counts["total_tokens"] != counts["prompt_tokens"] + counts["completion_tokens"]
    ):
        problems.append(f"{where}: total_tokens is not prompt_tokens + completion_tokens")
    elif not completion and counts["total_tokens"] < counts["prompt_tokens"]:
        problems.append(f"{where}: total_tokens is below prompt_tokens")
    return value


def check_identity(value: dict[str, Any], where: str, problems: list[str]) -> None:
    if not non_empty(value.get("id")):
        problems.append(f"{where}.id: expected a non-empty string")
    created = value.get("created")
    if not (whole(created) and created > 0):
        problems.append(f"{where}.created: expected a Unix time, got {shown(created)}")
    if not non_empty(value.get("model")):
        problems.append(f"{where}.model: expected a non-empty string")


def check_index(choice: dict[str, Any], where: str, problems: list[str]) -> int:
    index = choice.get("index")
    if not (whole(index) and index >= 0):
        problems.append(f"{where}.index: expected a whole number, got {shown(index)}")
        return -1
    return index


def check_value(
    value: dict[str, Any], key: str, wanted: Any, where: str, problems: list[str]
) -> None:
    if value.get(key) != wanted:
        problems.append(f"{where}.{key}: expected {shown(wanted)}, got {shown(value.get(key))}")


def non_empty(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
