"""The streaming half of the contract: SSE framing, and chunks that add up to one answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway_core.contract.cases import ClientRequest
from gateway_core.contract.matching import shown
from gateway_core.contract.shapes import (
    FINISH_REASONS,
    Reply,
    Summary,
    check_error_object,
    check_identity,
    check_index,
    check_usage,
    check_value,
    non_empty,
)


def parse_sse(body: bytes) -> tuple[list[bytes], list[str]]:
    """The data payloads of an OpenAI-style event stream, and what is wrong with its framing."""
    problems = []
    if b"\r" in body:
        problems.append("framing: carriage returns in the stream (events end with \\n\\n)")
    if body and not body.endswith(b"\n\n"):
        problems.append("framing: the stream does not end with a blank line")
    payloads = []
    for number, block in enumerate(body.split(b"\n\n")):
        if not block.strip():
            continue
        data = []
        for line in block.split(b"\n"):
            if line.startswith(b":"):
                continue  # an SSE comment
            if line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
            else:
                problems.append(
                    f"framing: event {number} has a line that is not data: {line[:40]!r}"
                )
        if data:
            payloads.append(b"\n".join(data))
        else:
            problems.append(f"framing: event {number} has no data line")
    return payloads, problems


@dataclass(slots=True)
class _Choice:
    content: list[str] = field(default_factory=list)
    has_content: bool = False
    finish_reason: str | None = None
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)


class _StreamReader:
    def __init__(self, include_usage: bool, problems: list[str]) -> None:
        self.include_usage = include_usage
        self.problems = problems
        self.identity: tuple[Any, Any, Any] | None = None
        self.identity_differs = False
        self.choices: dict[int, _Choice] = {}
        self.usage_at: list[int] = []
        self.usage: dict[str, Any] | None = None
        self.chunks = 0

    def read(self, number: int, chunk: dict[str, Any]) -> None:
        where = f"chunk {number}"
        self.chunks += 1
        check_value(chunk, "object", "chat.completion.chunk", where, self.problems)
        self._same_identity(chunk, where)
        usage = chunk.get("usage")
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            self.problems.append(f"{where}.choices: expected an array")
            choices = []
        if usage is not None:
            self.usage_at.append(self.chunks - 1)
            self.usage = check_usage(usage, f"{where}.usage", self.problems)
            if not self.include_usage:
                self.problems.append(f"{where}: usage sent although the client did not ask for it")
            if choices:
                self.problems.append(f"{where}: the usage chunk must have no choices")
        elif not choices:
            self.problems.append(f"{where}: no choices and no usage, nothing a client can use")
        for position, choice in enumerate(choices):
            self._read_choice(choice, f"{where}.choices[{position}]")

    def _same_identity(self, chunk: dict[str, Any], where: str) -> None:
        check_identity(chunk, where, self.problems)
        identity = (chunk.get("id"), chunk.get("created"), chunk.get("model"))
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity and not self.identity_differs:
            self.identity_differs = True  # once is enough to make the point
            self.problems.append(
                f"{where}: id/created/model {shown(list(identity))} differ from the first "
                f"chunk's {shown(list(self.identity))}"
            )

    def _read_choice(self, choice: Any, where: str) -> None:
        if not isinstance(choice, dict):
            self.problems.append(f"{where}: expected an object")
            return
        index = check_index(choice, where, self.problems)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            self.problems.append(f"{where}.delta: missing (every streamed choice has a delta)")
            delta = {}
        first = index not in self.choices
        state = self.choices.setdefault(index, _Choice())
        if first and delta.get("role") != "assistant":
            self.problems.append(f"{where}: the first delta of a choice has role 'assistant'")
        elif "role" in delta and delta["role"] != "assistant":
            self.problems.append(f"{where}.delta.role: {delta['role']!r}, expected 'assistant'")
        content = delta.get("content")
        if not isinstance(content, str | None):
            self.problems.append(f"{where}.delta.content: expected a string or null")
        elif content:
            state.content.append(content)
        state.has_content = state.has_content or isinstance(content, str)
        carries = bool(content) or bool(delta.get("tool_calls"))
        if state.finish_reason is not None and carries:
            self.problems.append(f"{where}: content after the choice's finish_reason")
        self._read_tool_calls(delta.get("tool_calls"), state, f"{where}.delta.tool_calls")
        finish = choice.get("finish_reason")
        if finish is not None:
            if finish not in FINISH_REASONS:
                self.problems.append(f"{where}.finish_reason: {finish!r} is not an OpenAI one")
            state.finish_reason = finish

    def _read_tool_calls(self, value: Any, state: _Choice, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.problems.append(f"{where}: expected an array")
            return
        for position, fragment in enumerate(value):
            at = f"{where}[{position}]"
            if not isinstance(fragment, dict) or not isinstance(fragment.get("index"), int):
                self.problems.append(f"{at}: expected an object with an integer index")
                continue
            function = fragment.get("function") or {}
            call = state.calls.get(fragment["index"])
            if call is None:
                if not non_empty(fragment.get("id")):
                    self.problems.append(f"{at}.id: the first fragment of a tool call has its id")
                if fragment.get("type") != "function":
                    self.problems.append(f"{at}.type: the first fragment has type 'function'")
                if not non_empty(function.get("name")):
                    self.problems.append(f"{at}.function.name: the first fragment has the name")
                call = state.calls[fragment["index"]] = {
                    "id": fragment.get("id"),
                    "name": function.get("name"),
                    "arguments": "",
                }
            elif fragment.get("id") not in (None, call["id"]):
                self.problems.append(f"{at}.id: changes within one tool call")
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call["arguments"] += arguments
            elif arguments is not None:
                self.problems.append(f"{at}.function.arguments: expected a string")

    def finish(self, ended_by_error: bool) -> Summary:
        if not ended_by_error:
            if self.chunks == 0:
                self.problems.append("stream: no chunks before [DONE]")
            for index, state in sorted(self.choices.items()):
                if state.finish_reason is None:
                    self.problems.append(f"stream: choice {index} never got a finish_reason")
                if state.finish_reason == "tool_calls":
                    self._check_arguments(index, state)
            self._check_usage_position()
        first = self.choices.get(0, _Choice())
        return Summary(
            content="".join(first.content) if first.has_content else None,
            finish_reason=first.finish_reason,
            tool_calls=[first.calls[i] for i in sorted(first.calls)],
            usage=self.usage,
        )

    def _check_arguments(self, index: int, state: _Choice) -> None:
        if not state.calls:
            self.problems.append(f"stream: choice {index} finished with tool_calls but has none")
        for position, call in sorted(state.calls.items()):
            try:
                orjson.loads(call["arguments"])
            except orjson.JSONDecodeError:
                self.problems.append(
                    f"stream: tool call {position} of choice {index}: arguments do not join up "
                    f"to JSON: {call['arguments'][:60]!r}"
                )

    def _check_usage_position(self) -> None:
        if not self.include_usage:
            return
        if len(self.usage_at) != 1:
            self.problems.append(
                f"stream: the client asked for usage; expected one usage chunk, got "
                f"{len(self.usage_at)}"
            )
        elif self.usage_at[0] != self.chunks - 1:
            self.problems.append("stream: the usage chunk must be the last chunk before [DONE]")


def read_stream(request: ClientRequest, reply: Reply, problems: list[str]) -> Summary:
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        problems.append(f"headers: content-type is {content_type!r}, not text/event-stream")
    payloads, framing = parse_sse(reply.body)
    problems += framing
    reader = _StreamReader(request.include_usage, problems)
    error: dict[str, Any] | None = None
    ended = False
    for number, payload in enumerate(payloads):
        where = f"chunk {number}"
        if ended or error is not None:
            problems.append(f"{where}: sent after the end of the stream")
            break
        if payload == b"[DONE]":
            ended = True
            continue
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            problems.append(f"{where}: not JSON: {payload[:60]!r}")
            continue
        if isinstance(chunk, dict) and "error" in chunk:
            error = check_error_object(chunk, where, problems)
            continue
        if not isinstance(chunk, dict):
            problems.append(f"{where}: expected a JSON object")
            continue
        reader.read(number, chunk)
    if not ended and error is None:
        problems.append("stream: does not end with data: [DONE]")
    summary = reader.finish(ended_by_error=error is not None)
    summary.stream_error = error
    return summary
