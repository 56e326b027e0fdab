"""The OpenAI API contract as a client relies on it, checked on the bytes a client received.

One pass over a reply both checks it and sums it up (text, finish reason, tool calls, usage,
error) so that a case can compare the sum with what it expects. Every problem is a sentence
that names the spot, so a failing provider shows all of its mistakes at once.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from gateway_core.contract.cases import ClientRequest
from gateway_core.contract.matching import shown
from gateway_core.contract.shapes import (
    ERROR_TYPES,
    FINISH_REASONS,
    Reply,
    Summary,
    check_error_object,
    check_identity,
    check_index,
    check_usage,
    check_value,
    non_empty,
    number,
)
from gateway_core.contract.streams import read_stream


def read_reply(request: ClientRequest, reply: Reply) -> tuple[Summary, list[str]]:
    """Check ``reply`` against the contract for ``request``; return its summary and problems."""
    problems: list[str] = []
    if not reply.headers.get("x-request-id"):
        problems.append("headers: no X-Request-ID")
    if reply.status >= 400:
        return _read_error(reply, problems), problems
    if request.stream:
        return read_stream(request, reply, problems), problems
    body = _json_body(reply, problems)
    if body is None:
        return Summary(), problems
    if request.operation == "embeddings":
        return _read_embeddings(request, body, problems), problems
    return _read_completion(body, problems), problems


def _json_body(reply: Reply, problems: list[str]) -> dict[str, Any] | None:
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        problems.append(f"headers: content-type is {content_type!r}, not application/json")
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        problems.append(f"body: not JSON: {reply.body[:80]!r}")
        return None
    if not isinstance(body, dict):
        problems.append(f"body: expected a JSON object, got {shown(body)}")
        return None
    return body


def _read_error(reply: Reply, problems: list[str]) -> Summary:
    body = _json_body(reply, problems)
    error = check_error_object(body, "body", problems) if body is not None else None
    if error is not None:
        allowed = ERROR_TYPES.get(reply.status)
        if allowed is not None and error.get("type") not in allowed:
            problems.append(
                f"body.error.type: {error.get('type')!r} does not go with HTTP {reply.status} "
                f"(expected one of {', '.join(sorted(allowed))})"
            )
    retry_after = reply.headers.get("retry-after")
    if retry_after is not None and not (retry_after.isdigit() and int(retry_after) >= 1):
        problems.append(f"headers: Retry-After {retry_after!r} is not a whole number of seconds")
    return Summary(body=body, error=error)


def _read_completion(body: dict[str, Any], problems: list[str]) -> Summary:
    check_value(body, "object", "chat.completion", "body", problems)
    check_identity(body, "body", problems)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        problems.append("body.choices: expected a non-empty array")
        choices = []
    summary = Summary(body=body, usage=check_usage(body.get("usage"), "body.usage", problems))
    for position, choice in enumerate(choices):
        where = f"body.choices[{position}]"
        if not isinstance(choice, dict):
            problems.append(f"{where}: expected an object")
            continue
        check_index(choice, where, problems)
        message = choice.get("message")
        if not isinstance(message, dict):
            problems.append(f"{where}.message: expected an object")
            message = {}
        check_value(message, "role", "assistant", f"{where}.message", problems)
        content = message.get("content")
        if not isinstance(content, str | None):
            problems.append(f"{where}.message.content: expected a string or null")
        calls = _tool_calls(message.get("tool_calls"), f"{where}.message.tool_calls", problems)
        finish = choice.get("finish_reason")
        if finish not in FINISH_REASONS:
            problems.append(f"{where}.finish_reason: {finish!r} is not an OpenAI finish reason")
        if finish == "tool_calls" and not calls:
            problems.append(f"{where}: finish_reason is tool_calls but there are no tool calls")
        if position == 0:
            summary.content, summary.finish_reason, summary.tool_calls = content, finish, calls
    return summary


def _tool_calls(value: Any, where: str, problems: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{where}: expected an array")
        return []
    calls = []
    for position, call in enumerate(value):
        at = f"{where}[{position}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            problems.append(f"{at}.function: expected an object")
            continue
        if not non_empty(call.get("id")):
            problems.append(f"{at}.id: expected a non-empty string")
        check_value(call, "type", "function", at, problems)
        if not non_empty(function.get("name")):
            problems.append(f"{at}.function.name: expected a non-empty string")
        if not isinstance(function.get("arguments"), str):
            problems.append(f"{at}.function.arguments: expected a string of JSON")
        calls.append(
            {
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return calls


def _read_embeddings(request: ClientRequest, body: dict[str, Any], problems: list[str]) -> Summary:
    check_value(body, "object", "list", "body", problems)
    if not non_empty(body.get("model")):
        problems.append("body.model: expected a non-empty string")
    data = body.get("data")
    if not isinstance(data, list):
        problems.append("body.data: expected an array")
        data = []
    sent = request.body.get("input")
    wanted = 1 if isinstance(sent, str) else len(sent) if isinstance(sent, list) else None
    if wanted is not None and len(data) != wanted:
        problems.append(f"body.data: {len(data)} embeddings for {wanted} inputs")
    as_base64 = request.body.get("encoding_format") == "base64"
    sizes = set()
    for position, item in enumerate(data):
        where = f"body.data[{position}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        check_value(item, "object", "embedding", where, problems)
        if item.get("index") != position:
            problems.append(f"{where}.index: expected {position}, got {shown(item.get('index'))}")
        size = _vector_size(item.get("embedding"), as_base64)
        if size is None:
            kind = "a base64 string" if as_base64 else "a non-empty array of numbers"
            problems.append(f"{where}.embedding: expected {kind}")
        else:
            sizes.add(size)
    if len(sizes) > 1:
        problems.append(f"body.data: embeddings of different sizes {sorted(sizes)}")
    usage = check_usage(body.get("usage"), "body.usage", problems, completion=False)
    return Summary(
        body=body, usage=usage, embeddings=len(data), dimensions=min(sizes) if sizes else None
    )


def _vector_size(vector: Any, as_base64: bool) -> int | None:
    if as_base64:
        if not isinstance(vector, str):
            return None
        try:
            return len(base64.b64decode(vector, validate=True)) // 4
        except ValueError:
            return None
    numbers = isinstance(vector, list) and all(number(v) for v in vector)
    return len(vector) if numbers and vector else None
