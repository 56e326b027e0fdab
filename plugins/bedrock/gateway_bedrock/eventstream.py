"""Incremental decoding of AWS's binary event stream (``application/vnd.amazon.eventstream``).

ConverseStream answers with length-prefixed binary messages, not text events, and network
reads cut them anywhere. The decoder buffers bytes and hands out each message once it is
whole, after checking both of its CRC32s: a corrupt stream must fail loudly, never be read as
a shorter answer. Layout of one message (integers big-endian)::

    total length (4) | headers length (4) | CRC32 of the first 8 bytes (4)
    headers | payload | CRC32 of everything before it (4)

A header is a 1-byte name length, the name, a 1-byte type and a value of that type.
It is pure computation with no I/O, so an async reader calls :meth:`feed` directly.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRELUDE = struct.Struct(">III")
CHECKSUM = struct.Struct(">I")
PRELUDE_SIZE = PRELUDE.size
#: Prelude, its CRC and the trailing CRC: a message with no headers and no payload.
SMALLEST_MESSAGE = PRELUDE_SIZE + CHECKSUM.size
MAX_HEADERS_SIZE = 128 * 1024
MAX_PAYLOAD_SIZE = 16 * 1024 * 1024

# Header value types: fixed-size ones by struct, then the variable-length and special ones.
_FIXED = {2: struct.Struct(">b"), 3: struct.Struct(">h"), 4: struct.Struct(">i")}
_INT64 = struct.Struct(">q")
_LENGTH16 = struct.Struct(">H")
_BOOL_TRUE, _BOOL_FALSE, _INT_64, _BYTES, _STRING, _TIMESTAMP, _UUID = 0, 1, 5, 6, 7, 8, 9


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad checksum, impossible lengths, bad header)."""


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One decoded message: its headers (``:message-type``, ``:event-type``...) and payload."""

    headers: Mapping[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str | None:
        return _text_header(self.headers, ":message-type")

    @property
    def event_type(self) -> str | None:
        return _text_header(self.headers, ":event-type")


class EventStreamDecoder:
    """Feed it the body's pieces in order; it returns the messages each piece completes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an unfinished message: non-zero at the end of a body means it was cut."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[EventMessage]:
        self._buffer += data
        messages: list[EventMessage] = []
        offset = 0
        buffer = self._buffer
        with memoryview(buffer) as view:  # released before the buffer is resized below
            while len(buffer) - offset >= PRELUDE_SIZE:
                total = _checked_total(buffer, offset)
                if len(buffer) - offset < total:
                    break
                messages.append(_message(view[offset : offset + total]))
                offset += total
        if offset:
            del buffer[:offset]
        return messages


def _checked_total(buffer: bytearray, offset: int) -> int:
    """The total length of the message at ``offset``, once its prelude is known to be sound.

    The prelude has its own CRC so that a corrupt length is caught before the decoder waits
    for megabytes that will never come.
    """
    total, headers_size, prelude_crc = PRELUDE.unpack_from(buffer, offset)
    if zlib.crc32(buffer[offset : offset + 8]) != prelude_crc:
        raise EventStreamError("event stream prelude checksum mismatch")
    payload_size = total - headers_size - SMALLEST_MESSAGE
    if headers_size > MAX_HEADERS_SIZE:
        raise EventStreamError(f"event stream headers too large ({headers_size} bytes)")
    if total < SMALLEST_MESSAGE or payload_size < 0:
        raise EventStreamError(f"event stream message length {total} is impossible")
    if payload_size > MAX_PAYLOAD_SIZE:
        raise EventStreamError(f"event stream payload too large ({payload_size} bytes)")
    return total


def _message(frame: memoryview) -> EventMessage:
    (expected,) = CHECKSUM.unpack_from(frame, len(frame) - CHECKSUM.size)
    if zlib.crc32(frame[: -CHECKSUM.size]) != expected:
        raise EventStreamError("event stream message checksum mismatch")
    _total, headers_size, _crc = PRELUDE.unpack_from(frame)
    headers_end = PRELUDE_SIZE + headers_size
    return EventMessage(
        headers=_headers(bytes(frame[PRELUDE_SIZE:headers_end])),
        payload=bytes(frame[headers_end : -CHECKSUM.size]),
    )


def _headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    offset = 0
    try:
        while offset < len(data):
            name_size = data[offset]
            name = data[offset + 1 : offset + 1 + name_size].decode()
            offset += 1 + name_size
            kind = data[offset]
            value, offset = _header_value(data, offset + 1, kind)
            if name in headers:
                raise EventStreamError(f"event stream header {name!r} appears twice")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError):
        raise EventStreamError("event stream headers are truncated or malformed") from None
    return headers


def _header_value(data: bytes, offset: int, kind: int) -> tuple[Any, int]:
    """The value of type ``kind`` that starts at ``offset``, and the offset after it."""
    if kind in (_BOOL_TRUE, _BOOL_FALSE):
        return kind == _BOOL_TRUE, offset
    fixed = _FIXED.get(kind)
    if fixed is not None:
        return fixed.unpack_from(data, offset)[0], offset + fixed.size
    if kind in (_INT_64, _TIMESTAMP):
        return _INT64.unpack_from(data, offset)[0], offset + _INT64.size
    if kind in (_BYTES, _STRING):
        (size,) = _LENGTH16.unpack_from(data, offset)
        start = offset + _LENGTH16.size
        raw = data[start : start + size]
        if len(raw) != size:
            raise EventStreamError("event stream header value is truncated")
        return (raw.decode() if kind == _STRING else raw), start + size
    if kind == _UUID:
        raw = data[offset : offset + 16]
        if len(raw) != 16:
            raise EventStreamError("event stream header value is truncated")
        return uuid.UUID(bytes=raw), offset + 16
    raise EventStreamError(f"event stream header type {kind} is unknown")


def _text_header(headers: Mapping[str, Any], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None
