"""Reading a Gemini candidate's parts: its visible text and its function calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway_vertex.call_ids import new_call_id


@dataclass(slots=True)
class CandidateParts:
    texts: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def read_parts(candidate: dict[str, Any]) -> CandidateParts:
    """The text and OpenAI tool calls of a candidate, in order; thought summaries are left
    out (OpenAI's chat format has no place for them)."""
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    found = CandidateParts()
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict) or part.get("thought") is True:
            continue
        if isinstance(part.get("text"), str):
            found.texts.append(part["text"])
        call = part.get("functionCall")
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            found.tool_calls.append(_tool_call(call, part.get("thoughtSignature")))
    return found


def _tool_call(call: dict[str, Any], signature: Any) -> dict[str, Any]:
    arguments = call.get("args") if isinstance(call.get("args"), dict) else {}
    return {
        "id": new_call_id(signature if isinstance(signature, str) else None),
        "type": "function",
        "function": {"name": call["name"], "arguments": orjson.dumps(arguments).decode()},
    }


def candidates_of(response: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(choice index, candidate) pairs. Google's JSON leaves out fields that hold their default,
    so a candidate without ``index`` is candidate 0."""
    candidates = response.get("candidates")
    if not isinstance(candidates, list):
        return []
    return [
        (c["index"] if isinstance(c.get("index"), int) else 0, c)
        for c in candidates
        if isinstance(c, dict)
    ]


def created_at(response: dict[str, Any]) -> int:
    """The response's ``createTime`` as a Unix time, or now."""
    stamp = response.get("createTime")
    if isinstance(stamp, str):
        try:
            return int(datetime.fromisoformat(stamp).timestamp())
        except ValueError:
            pass
    return int(time.time())
