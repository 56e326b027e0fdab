"""Token usage as reported by upstreams, read from responses and streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_prompt_tokens: int | None = None

    @classmethod
    def from_openai(cls, data: Any) -> Usage | None:
        """Read OpenAI's ``usage`` object; ``None`` if it is missing or malformed."""
        if not isinstance(data, dict):
            return None
        prompt = data.get("prompt_tokens")
        completion = data.get("completion_tokens", 0)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        total = data.get("total_tokens")
        details = data.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total if isinstance(total, int) else prompt + completion,
            cached_prompt_tokens=cached if isinstance(cached, int) else None,
        )


def usage_from_body(body: bytes) -> Usage | None:
    """The usage of a complete (non-streamed) OpenAI response body."""
    if b'"usage"' not in body:
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return Usage.from_openai(parsed.get("usage")) if isinstance(parsed, dict) else None


class StreamUsageTap:
    """Watches a stream's events for the usage chunk without parsing the others.

    Only runs of events that contain a usage object are parsed. When the client did not ask for
    usage (the gateway asked on its behalf), the usage-only chunk is removed from what the
    client receives.
    """

    __slots__ = ("content_pieces", "strip", "usage")

    def __init__(self, strip: bool) -> None:
        self.strip = strip
        self.usage: Usage | None = None
        #: Non-empty content deltas seen: about one token each in OpenAI-style streams, the
        #: basis of the estimate when the stream ends before its usage chunk.
        self.content_pieces = 0

    def inspect(self, run: bytes) -> bytes:
        self.content_pieces += run.count(b'"content":"') - run.count(b'"content":""')
        if b'"usage":{' not in run and b'"usage": {' not in run:
            return run
        kept = []
        for event in run.split(b"\n\n"):
            if not event:
                continue
            usage, usage_only = _event_usage(event)
            if usage is not None:
                self.usage = usage
                if self.strip and usage_only:
                    continue
            kept.append(event + b"\n\n")
        return b"".join(kept)


def _event_usage(event: bytes) -> tuple[Usage | None, bool]:
    if not event.startswith(b"data:"):
        return None, False
    try:
        payload = orjson.loads(event[5:])
    except orjson.JSONDecodeError:
        return None, False
    if not isinstance(payload, dict):
        return None, False
    usage = Usage.from_openai(payload.get("usage"))
    return usage, usage is not None and not payload.get("choices")
