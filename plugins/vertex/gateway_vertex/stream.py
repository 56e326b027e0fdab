"""Gemini's streamed responses as OpenAI ``chat.completion.chunk`` events.

Each Gemini event carries new text only, and function calls arrive whole, so every part maps
to one chunk. A candidate is finished when an event gives its ``finishReason``; the usage
counts come with the last event, and the usage chunk (when the client asked for one) is sent
once the body has ended. There is no end marker: a stream whose candidates never finished
was cut off, and :attr:`StreamTranslator.complete` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_core.api import ProviderCall
from gateway_core.sse import encode_event
from gateway_vertex.answers import completion_id
from gateway_vertex.candidates import candidates_of, created_at, read_parts
from gateway_vertex.outcomes import finish_reason, has_counts, openai_usage, prompt_block


@dataclass(slots=True)
class _Choice:
    opened: bool = False
    tool_calls: int = 0
    finished: bool = False


class StreamTranslator:
    """Turns one stream's Gemini events into OpenAI chunks; build one per stream."""

    def __init__(self, call: ProviderCall) -> None:
        self.call = call
        options = call.body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.identity: dict[str, Any] | None = None
        self.choices: dict[int, _Choice] = {}
        self.usage: Any = None

    @property
    def complete(self) -> bool:
        """Every candidate has finished (and there was at least one)."""
        return bool(self.choices) and all(choice.finished for choice in self.choices.values())

    def feed(self, event: dict[str, Any]) -> bytes:
        """The chunks for one Gemini event; raises for a blocked prompt."""
        blocked = prompt_block(event)
        if blocked is not None:
            raise blocked
        if self.identity is None:
            self.identity = {
                "id": completion_id(event, self.call),
                "object": "chat.completion.chunk",
                "created": created_at(event),
                "model": self.call.public_model,
            }
        if has_counts(event.get("usageMetadata")):
            self.usage = event["usageMetadata"]
        return b"".join(self._candidate(index, c) for index, c in candidates_of(event))

    def close(self) -> bytes:
        """The usage chunk, when the client asked for it; call once the body has ended."""
        if not self.include_usage or self.identity is None:
            return b""
        return encode_event(
            orjson.dumps({**self.identity, "choices": [], "usage": openai_usage(self.usage)})
        )

    def _candidate(self, index: int, candidate: dict[str, Any]) -> bytes:
        choice = self.choices.setdefault(index, _Choice())
        if choice.finished:
            return b""  # nothing may follow a finish_reason
        parts = read_parts(candidate)
        texts = [text for text in parts.texts if text]
        reason = candidate.get("finishReason")
        events = []
        if not choice.opened and (texts or parts.tool_calls or reason):
            choice.opened = True
            # As OpenAI does: an answer that only calls tools has null content, not "".
            opening = None if parts.tool_calls and not texts else ""
            events.append(self._chunk(index, {"role": "assistant", "content": opening}))
        events += [self._chunk(index, {"content": text}) for text in texts]
        for call in parts.tool_calls:
            fragment = {"index": choice.tool_calls, **call}
            choice.tool_calls += 1
            events.append(self._chunk(index, {"tool_calls": [fragment]}))
        if reason:
            choice.finished = True
            events.append(self._chunk(index, {}, finish_reason(reason, choice.tool_calls > 0)))
        return b"".join(events)

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        assert self.identity is not None
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        chunk: dict[str, Any] = {**self.identity, "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return encode_event(orjson.dumps(chunk))


def data_payloads(lines: bytes) -> list[bytes]:
    """The payloads of the ``data:`` lines in a run of whole lines (blank lines, comments and
    other fields carry nothing)."""
    payloads = []
    for line in lines.split(b"\n"):
        line = line.strip()
        # Vertex sends no [DONE]; a proxy that adds one in OpenAI's manner changes nothing.
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
            payloads.append(line[5:].strip())
    return payloads
