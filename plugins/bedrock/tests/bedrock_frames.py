"""Binary AWS event-stream frames for tests, built from the layout with real CRC32s.

Written apart from gateway_bedrock.eventstream on purpose: the decoder is tested against
frames this module builds, and this module is checked against botocore's own decoder.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson


def string_header(name: str, value: str) -> bytes:
    """One header of type 7 (string): name length, name, type, value length, value."""
    encoded_name, encoded_value = name.encode(), value.encode()
    return (
        bytes([len(encoded_name)])
        + encoded_name
        + b"\x07"
        + struct.pack(">H", len(encoded_value))
        + encoded_value
    )


def message(headers: bytes, payload: bytes) -> bytes:
    """A whole message: prelude, prelude CRC, headers, payload and message CRC."""
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(name: str, payload: dict[str, Any]) -> bytes:
    """A ConverseStream event frame, headers in the order Bedrock sends them."""
    headers = (
        string_header(":event-type", name)
        + string_header(":content-type", "application/json")
        + string_header(":message-type", "event")
    )
    return message(headers, orjson.dumps(payload))


def exception(name: str, text: str) -> bytes:
    """A modelled exception frame, such as ``throttlingException``."""
    headers = (
        string_header(":exception-type", name)
        + string_header(":content-type", "application/json")
        + string_header(":message-type", "exception")
    )
    return message(headers, orjson.dumps({"message": text}))


def error(code: str, text: str) -> bytes:
    """A generic error frame: code and message in headers, empty payload."""
    headers = (
        string_header(":error-code", code)
        + string_header(":error-message", text)
        + string_header(":message-type", "error")
    )
    return message(headers, b"")


def text_stream(
    text: str = "Hello",
    *,
    stop: str = "end_turn",
    usage: tuple[int, int] = (12, 6),
    padded: bool = True,
) -> list[bytes]:
    """The frames of a plain text answer, with Bedrock's random-length ``p`` padding."""
    pad = {"p": "abcdefghijklmnopq"} if padded else {}
    words = text.split(" ")
    deltas = [word if i == 0 else f" {word}" for i, word in enumerate(words)]
    return [
        event("messageStart", {"role": "assistant", **pad}),
        *[
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": d}, **pad})
            for d in deltas
        ],
        event("contentBlockStop", {"contentBlockIndex": 0, **pad}),
        event("messageStop", {"stopReason": stop, **pad}),
        metadata(*usage),
    ]


def metadata(prompt: int, completion: int, **extra: int) -> bytes:
    usage = {
        "inputTokens": prompt,
        "outputTokens": completion,
        "totalTokens": prompt + completion,
        **extra,
    }
    return event("metadata", {"usage": usage, "metrics": {"latencyMs": 412}})


def tool_stream() -> list[bytes]:
    """Text, then one tool call whose JSON input arrives in two fragments."""
    return [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking."}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event(
            "contentBlockStart",
            {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "tooluse_w3Kq8", "name": "get_weather"}},
            },
        ),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city": "Par'}}},
        ),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 1, "delta": {"toolUse": {"input": 'is"}'}}},
        ),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event("messageStop", {"stopReason": "tool_use"}),
        metadata(412, 58),
    ]
