"""Translation between OpenAI's chat format and Acme's, in both directions.

Acme's API (a stand-in for your provider's):

* ``POST {base_url}/v2/generate`` with ``{"model", "turns": [{"speaker", "text"}],
  "max_words"?, "temperature"?, "stream"}``; speakers are ``system``, ``user`` and ``bot``.
* An answer is ``{"generation_id", "text", "stop": "done"|"limit"|"blocked",
  "tokens": {"in", "out"}}``.
* A stream is newline-delimited JSON: ``{"text": ...}`` lines, then one
  ``{"stop": ..., "tokens": {...}}`` line.
* Errors are ``{"problem": {"kind", "detail"}}`` with an HTTP status.

Pure functions and one small per-stream class: no I/O here, so all of it is easy to test.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway_core.api import InvalidRequest, ProviderCall
from gateway_core.sse import encode_event

SPEAKERS = {"system": "system", "developer": "system", "user": "user", "assistant": "bot"}
FINISH_REASONS = {"done": "stop", "limit": "length", "blocked": "content_filter"}


def generate_request(body: dict[str, Any], model: str, *, stream: bool) -> bytes:
    """Acme's request for an OpenAI chat body; what Acme cannot do is refused with a 400."""
    if body.get("tools"):
        raise InvalidRequest("Acme models cannot call tools.", param="tools")
    request: dict[str, Any] = {
        "model": model,
        "turns": [_turn(index, message) for index, message in enumerate(body["messages"])],
        "stream": stream,
    }
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        request["max_words"] = limit
    if body.get("temperature") is not None:
        request["temperature"] = body["temperature"]
    return orjson.dumps(request)


def _turn(index: int, message: dict[str, Any]) -> dict[str, str]:
    speaker = SPEAKERS.get(message["role"])
    if speaker is None:
        raise InvalidRequest(
            f"Acme has no '{message['role']}' messages.", param=f"messages[{index}].role"
        )
    content = message.get("content") or ""
    if isinstance(content, list):
        if any(part.get("type") != "text" for part in content):
            raise InvalidRequest("Acme models read text only.", param=f"messages[{index}].content")
        content = "".join(part.get("text", "") for part in content)
    return {"speaker": speaker, "text": content}


def completion(answer: dict[str, Any], call: ProviderCall) -> bytes:
    """OpenAI's ``chat.completion`` for an Acme answer."""
    return orjson.dumps(
        {
            "id": f"chatcmpl-{answer['generation_id']}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.public_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer["text"]},
                    "finish_reason": FINISH_REASONS.get(answer["stop"], "stop"),
                    "logprobs": None,
                }
            ],
            "usage": usage(answer["tokens"]),
        }
    )


def usage(tokens: dict[str, int]) -> dict[str, int]:
    return {
        "prompt_tokens": tokens["in"],
        "completion_tokens": tokens["out"],
        "total_tokens": tokens["in"] + tokens["out"],
    }


class ChunkWriter:
    """Turns one Acme stream's lines into OpenAI chunks that share an id, time and model."""

    def __init__(self, call: ProviderCall) -> None:
        self.base = {
            "id": f"chatcmpl-{call.request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.public_model,
        }
        options = call.body.get("stream_options") or {}
        self.include_usage = options.get("include_usage") is True
        self.finished = False

    def opening(self) -> bytes:
        """The first chunk, which tells the client who speaks."""
        return self._chunk({"role": "assistant", "content": ""})

    def feed(self, line: dict[str, Any]) -> bytes:
        """The events for one Acme line (nothing for a line that carries nothing)."""
        if "text" in line:
            return self._chunk({"content": line["text"]})
        if "stop" not in line:
            return b""
        self.finished = True
        events = self._chunk({}, FINISH_REASONS.get(line["stop"], "stop"))
        if self.include_usage:
            tail = {**self.base, "choices": [], "usage": usage(line["tokens"])}
            events += encode_event(orjson.dumps(tail))
        return events

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk: dict[str, Any] = {**self.base, "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return encode_event(orjson.dumps(chunk))
