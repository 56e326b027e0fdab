"""One ConverseStream's events as OpenAI ``chat.completion.chunk`` Server-Sent Events.

Bedrock's order is ``messageStart``, content blocks (text deltas; tool calls announced by
``contentBlockStart`` and filled by JSON fragments), ``messageStop`` with the stop reason, and
``metadata`` with the usage. The translator keeps the state one stream needs (which block is
which tool call), so the adapter builds one per stream. ``metadata`` is the end marker: a
stream that closes before it did not finish.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway_bedrock.errors import stream_fault, stream_status
from gateway_bedrock.eventstream import EventMessage
from gateway_bedrock.replies import completion_id, finish_reason, openai_usage
from gateway_core.api import ProviderCall, UpstreamError
from gateway_core.sse import encode_event


class ConverseStreamTranslator:
    """Feed it decoded messages in order; it returns the SSE bytes each one produces."""

    def __init__(self, call: ProviderCall, deployment: str) -> None:
        self.deployment = deployment
        self.base = {
            "id": completion_id(call),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.public_model,
        }
        options = call.body.get("stream_options") or {}
        self.include_usage = options.get("include_usage") is True
        self.opened = False
        self.stopped = False
        self.finished = False
        self.usage: dict[str, Any] | None = None
        self._described = False  # the metadata event arrived (its usage may be unreadable)
        self._tools: dict[int, int] = {}  # content block index -> OpenAI tool call index
        self._argued: set[int] = set()  # blocks whose arguments have started

    def feed(self, message: EventMessage) -> bytes:
        """The events for one message; raises the mapped error for an exception frame."""
        kind = message.message_type
        if kind in ("exception", "error"):
            fault = stream_fault(message)
            raise fault.to_error(stream_status(fault), self.deployment)
        if kind != "event" or self.finished:
            return b""
        handler = _HANDLERS.get(message.event_type or "")
        return handler(self, self._payload(message)) if handler is not None else b""

    # -- events ---------------------------------------------------------------------------

    def _message_start(self, _payload: dict[str, Any]) -> bytes:
        return self._open()

    def _block_start(self, payload: dict[str, Any]) -> bytes:
        use = (payload.get("start") or {}).get("toolUse")
        if not isinstance(use, dict):
            return self._open()
        block = payload.get("contentBlockIndex")
        index = self._tools[block] = len(self._tools)
        fragment = {
            "index": index,
            "id": use.get("toolUseId"),
            "type": "function",
            "function": {"name": use.get("name"), "arguments": ""},
        }
        return self._open() + self._chunk({"tool_calls": [fragment]})

    def _block_delta(self, payload: dict[str, Any]) -> bytes:
        delta = payload.get("delta") or {}
        text = delta.get("text")
        if isinstance(text, str):
            return self._open() + self._chunk({"content": text}) if text else self._open()
        use = delta.get("toolUse")
        if not isinstance(use, dict):
            return b""  # reasoning, citations: nothing OpenAI clients expect
        block = payload.get("contentBlockIndex")
        if block not in self._tools:
            raise UpstreamError(
                f"Deployment {self.deployment} streamed tool input for an unannounced tool call"
            )
        fragment = use.get("input")
        if not isinstance(fragment, str) or not fragment:
            return b""
        self._argued.add(block)
        return self._arguments(block, fragment)

    def _block_stop(self, payload: dict[str, Any]) -> bytes:
        block = payload.get("contentBlockIndex")
        if block in self._tools and block not in self._argued:
            # A call without input still needs arguments that parse: an empty object.
            self._argued.add(block)
            return self._arguments(block, "{}")
        return b""

    def _message_stop(self, payload: dict[str, Any]) -> bytes:
        self.stopped = True
        reason = finish_reason(payload.get("stopReason"), called_tools=bool(self._tools))
        return self._open() + self._chunk({}, reason) + self._end()

    def _metadata(self, payload: dict[str, Any]) -> bytes:
        self.usage = openai_usage(payload.get("usage"))
        self._described = True
        return self._end()

    # -- output ---------------------------------------------------------------------------

    def _open(self) -> bytes:
        """The role chunk, once, before anything else the client sees."""
        if self.opened:
            return b""
        self.opened = True
        return self._chunk({"role": "assistant", "content": ""})

    def _end(self) -> bytes:
        """The usage chunk once both the stop reason and the metadata are in."""
        if not self.stopped or not self._described or self.finished:
            return b""
        self.finished = True
        if not self.include_usage or self.usage is None:
            return b""
        tail = {**self.base, "choices": [], "usage": self.usage}
        return encode_event(orjson.dumps(tail))

    def _arguments(self, block: int, fragment: str) -> bytes:
        call = {"index": self._tools[block], "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        chunk: dict[str, Any] = {**self.base, "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return encode_event(orjson.dumps(chunk))

    def _payload(self, message: EventMessage) -> dict[str, Any]:
        try:
            payload = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamError(
                f"Deployment {self.deployment} streamed a {message.event_type} event that is "
                "not a JSON object"
            )
        return payload


_HANDLERS = {
    "messageStart": ConverseStreamTranslator._message_start,
    "contentBlockStart": ConverseStreamTranslator._block_start,
    "contentBlockDelta": ConverseStreamTranslator._block_delta,
    "contentBlockStop": ConverseStreamTranslator._block_stop,
    "messageStop": ConverseStreamTranslator._message_stop,
    "metadata": ConverseStreamTranslator._metadata,
}
