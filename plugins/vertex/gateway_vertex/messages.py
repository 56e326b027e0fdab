"""An OpenAI ``messages`` list as Gemini's ``systemInstruction`` and ``contents``.

* System and developer messages, wherever they stand, become the system instruction.
* ``assistant`` is Gemini's ``model`` role; its tool calls become ``functionCall`` parts, with
  the thought signature their ids carry (see :mod:`gateway_vertex.call_ids`).
* Tool messages become ``functionResponse`` parts in a user turn. Gemini wants the function's
  name, which OpenAI tool messages lack: it is looked up from the assistant tool call with the
  same id, earlier in the same history.
* Consecutive messages of one role share one turn, so the results of parallel calls travel
  together, as Gemini requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_core.api import InvalidRequest
from gateway_vertex.call_ids import thought_signature
from gateway_vertex.parts import text_of, user_parts

SYSTEM_ROLES = frozenset({"system", "developer"})
#: Google's documented stand-in for a signature lost on the way (history from another model).
SKIP_SIGNATURE = "skip_thought_signature_validator"


@dataclass(slots=True)
class Conversation:
    system: dict[str, Any] | None
    contents: list[dict[str, Any]]


def conversation(messages: Any, *, skip_missing_signatures: bool = False) -> Conversation:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    builder = _Builder(skip_missing_signatures)
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest("Each message must be an object.", param=where)
        builder.add(message, where)
    if not builder.contents:
        raise InvalidRequest(
            "Vertex AI needs at least one user or assistant message with content.",
            param="messages",
        )
    system = {"parts": builder.system} if builder.system else None
    return Conversation(system, builder.contents)


class _Builder:
    def __init__(self, skip_missing_signatures: bool) -> None:
        self.skip_missing_signatures = skip_missing_signatures
        self.system: list[dict[str, Any]] = []
        self.contents: list[dict[str, Any]] = []
        self.function_names: dict[str, str] = {}

    def add(self, message: dict[str, Any], where: str) -> None:
        role = message.get("role")
        content = message.get("content")
        if not isinstance(role, str):
            role = None
        if role in SYSTEM_ROLES:
            text = text_of(content, f"{where}.content")
            if text:
                self.system.append({"text": text})
        elif role == "user":
            self._append("user", user_parts(content, f"{where}.content"))
        elif role == "assistant":
            self._append("model", self._assistant_parts(message, where))
        elif role == "tool":
            self._append("user", [self._function_response(message, where)])
        else:
            raise InvalidRequest(
                "Vertex AI takes system, developer, user, assistant and tool messages.",
                param=f"{where}.role",
            )

    def _append(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})

    def _assistant_parts(self, message: dict[str, Any], where: str) -> list[dict[str, Any]]:
        text = text_of(
            message.get("content"), f"{where}.content", allowed=frozenset({"text", "refusal"})
        )
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise InvalidRequest("'tool_calls' must be an array.", param=f"{where}.tool_calls")
        call_parts = [
            self._function_call(call, f"{where}.tool_calls[{position}]")
            for position, call in enumerate(calls)
        ]
        signed = any("thoughtSignature" in part for part in call_parts)
        if call_parts and not signed and self.skip_missing_signatures:
            call_parts[0]["thoughtSignature"] = SKIP_SIGNATURE
        return parts + call_parts

    def _function_call(self, call: Any, where: str) -> dict[str, Any]:
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        call_id = call.get("id") if isinstance(call, dict) else None
        if not isinstance(name, str) or not name or not isinstance(call_id, str):
            raise InvalidRequest("A tool call needs an 'id' and a function 'name'.", param=where)
        self.function_names[call_id] = name
        part: dict[str, Any] = {
            "functionCall": {"name": name, "args": _arguments(function.get("arguments"), where)}
        }
        signature = thought_signature(call_id)
        if signature:
            part["thoughtSignature"] = signature
        return part

    def _function_response(self, message: dict[str, Any], where: str) -> dict[str, Any]:
        call_id = message.get("tool_call_id")
        name = self.function_names.get(call_id) if isinstance(call_id, str) else None
        if name is None:
            raise InvalidRequest(
                "This tool message answers no tool call of an earlier assistant message: its "
                "'tool_call_id' must be the id of one of them.",
                param=f"{where}.tool_call_id",
            )
        result = text_of(message.get("content"), f"{where}.content")
        return {"functionResponse": {"name": name, "response": _response_object(result)}}


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """A tool call's arguments, which OpenAI sends as a JSON string, as Gemini's object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        parsed = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            "A tool call's arguments must be a JSON object.", param=f"{where}.function.arguments"
        )
    return parsed


def _response_object(result: str) -> dict[str, Any]:
    """Gemini wants an object: a JSON object result is used as it is, anything else wrapped."""
    try:
        parsed = orjson.loads(result)
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"content": result}
