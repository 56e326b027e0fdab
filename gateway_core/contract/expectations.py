"""Comparing a reply's summary with what a case expects (only the keys the case gives)."""

from __future__ import annotations

from typing import Any

import orjson

from gateway_core.contract.cases import ExpectedError, ExpectedToolCall, Outcome
from gateway_core.contract.matching import shown, subset_problems
from gateway_core.contract.shapes import Reply, Summary


def outcome_problems(expected: Outcome, summary: Summary, reply: Reply) -> list[str]:
    given = expected.model_fields_set
    found: list[str] = []
    if reply.status != expected.status:
        found.append(f"status: expected {expected.status}, got {reply.status}{_why(summary)}")
    for key in ("content", "finish_reason", "embeddings", "dimensions"):
        if key in given and getattr(summary, key) != getattr(expected, key):
            found.append(
                f"{key}: expected {shown(getattr(expected, key))}, "
                f"got {shown(getattr(summary, key))}"
            )
    if expected.tool_calls is not None:
        found += _tool_call_problems(expected.tool_calls, summary.tool_calls)
    if expected.usage is not None:
        found += subset_problems(expected.usage, summary.usage, "usage")
    if "body" in given:
        found += subset_problems(expected.body, summary.body, "body")
    if expected.error is not None:
        found += _error_problems(expected.error, summary.error, "error")
    if expected.stream_error is not None:
        found += _error_problems(expected.stream_error, summary.stream_error, "stream_error")
    elif summary.stream_error is not None:
        found.append(f"stream_error: the stream ended with an error: {shown(summary.stream_error)}")
    for name, value in expected.headers.items():
        got = reply.headers.get(name)
        if got != value:
            found.append(f"header {name}: expected {value!r}, got {got!r}")
    return found


def _why(summary: Summary) -> str:
    message = (summary.error or {}).get("message")
    return f" ({message})" if message else ""


def _tool_call_problems(
    expected: list[ExpectedToolCall], actual: list[dict[str, Any]]
) -> list[str]:
    if len(expected) != len(actual):
        names = [call.get("name") for call in actual]
        return [f"tool_calls: expected {len(expected)}, got {len(actual)} {shown(names)}"]
    found = []
    for position, (wanted, call) in enumerate(zip(expected, actual, strict=True)):
        where = f"tool_calls[{position}]"
        if call.get("name") != wanted.name:
            found.append(f"{where}.name: expected {wanted.name!r}, got {call.get('name')!r}")
        if "id" in wanted.model_fields_set and call.get("id") != wanted.id:
            found.append(f"{where}.id: expected {wanted.id!r}, got {call.get('id')!r}")
        if "arguments" in wanted.model_fields_set:
            try:
                arguments = orjson.loads(call.get("arguments") or "")
            except orjson.JSONDecodeError:
                found.append(f"{where}.arguments: not JSON: {call.get('arguments')!r}")
                continue
            found += subset_problems(wanted.arguments, arguments, f"{where}.arguments")
    return found


def _error_problems(
    expected: ExpectedError, actual: dict[str, Any] | None, where: str
) -> list[str]:
    if actual is None:
        return [f"{where}: expected an error, got none"]
    found = []
    for key in ("code", "type", "param"):
        if key in expected.model_fields_set and actual.get(key) != getattr(expected, key):
            found.append(
                f"{where}.{key}: expected {getattr(expected, key)!r}, got {actual.get(key)!r}"
            )
    wanted = expected.message_contains
    if wanted is not None and wanted not in str(actual.get("message")):
        found.append(f"{where}.message: {actual.get('message')!r} does not mention {wanted!r}")
    return found
