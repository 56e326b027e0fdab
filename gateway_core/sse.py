"""Server-Sent Events framing shared by the core and adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

DONE_EVENT = b"data: [DONE]\n\n"


def encode_event(payload: bytes) -> bytes:
    """Frame one JSON payload as an SSE ``data:`` event."""
    return b"data: " + payload + b"\n\n"


def error_event(error: dict[str, object]) -> bytes:
    """An in-stream error as OpenAI sends it; the official SDKs raise ``APIError`` on it."""
    return encode_event(orjson.dumps(error))


async def complete_events(
    pieces: AsyncIterator[bytes], separator: bytes = b"\n\n"
) -> AsyncIterator[bytes]:
    """Regroup network pieces into runs of whole events, each run ending with ``separator``.

    Whole events matter: a client must never receive half an event followed by an error
    event. Several events that arrived together stay together (one write instead of many).
    The unterminated tail left when the upstream closes is yielded last, terminated, so that
    the caller can decide whether a stream without its end marker is an error.
    """
    pending = b""
    width = len(separator)
    async for piece in pieces:
        if pending:
            piece = pending + piece
        cut = piece.rfind(separator)
        if cut == -1:
            pending = piece
            continue
        end = cut + width
        pending = piece[end:]
        yield piece[:end]
    if pending.strip():
        yield pending + separator
