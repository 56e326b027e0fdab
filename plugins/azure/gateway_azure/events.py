"""Removing Azure's content-filter bookkeeping from a stream before a client parses it.

Azure interleaves chunks that are not completion chunks: a first chunk carrying only
``prompt_filter_results`` (no choices, empty id and model), and, with the asynchronous filter,
annotation chunks whose choices have no ``delta``. Relayed as they are, they break clients that
expect every chunk to have an id and every choice a delta. Real chunks pass through untouched,
byte for byte; an annotation that ends a choice (``finish_reason: content_filter``) becomes an
ordinary finish chunk so that the client still learns why its answer stopped.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

SEPARATOR = b"\n\n"


class AzureStreamCleaner:
    """Filters the runs of events of one stream; build one per stream (it remembers the id)."""

    def __init__(self, fallback_id: str, fallback_model: str) -> None:
        self._identity: dict[str, Any] | None = None
        self._fallback = {"id": fallback_id, "model": fallback_model}

    def __call__(self, events: bytes) -> bytes:
        kept: list[bytes] = []
        changed = False
        for event in events.split(SEPARATOR):
            if not event:
                continue
            cleaned = self._clean(event)
            changed = changed or cleaned is not event
            if cleaned is not None:
                kept.append(cleaned + SEPARATOR)
        return b"".join(kept) if changed else events

    def _clean(self, event: bytes) -> bytes | None:
        chunk = _payload(event)
        if chunk is None or "error" in chunk:
            return event
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return event
        if not choices:
            return event if chunk.get("usage") else None  # the prompt-filter chunk
        with_delta = [c for c in choices if isinstance(c, dict) and "delta" in c]
        if len(with_delta) == len(choices):
            self._remember(chunk)
            return event
        finished = [
            {"index": c.get("index", 0), "delta": {}, "logprobs": None, "finish_reason": reason}
            for c in choices
            if isinstance(c, dict) and "delta" not in c and (reason := c.get("finish_reason"))
        ]
        if not with_delta and not finished:
            return None  # an annotation that changes nothing for the client
        rebuilt = {**self._chunk_identity(), "choices": with_delta + finished}
        return b"data: " + orjson.dumps(rebuilt)

    def _remember(self, chunk: dict[str, Any]) -> None:
        if self._identity is None and chunk.get("id"):
            self._identity = {
                "id": chunk["id"],
                "object": "chat.completion.chunk",
                "created": chunk.get("created") or int(time.time()),
                "model": chunk.get("model") or self._fallback["model"],
            }

    def _chunk_identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = {
                "id": self._fallback["id"],
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self._fallback["model"],
            }
        return self._identity


def _payload(event: bytes) -> dict[str, Any] | None:
    """The JSON object of a single-line ``data:`` event, or ``None`` for anything else."""
    if not event.startswith(b"data:") or b"\n" in event:
        return None
    try:
        parsed = orjson.loads(event[5:])
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
