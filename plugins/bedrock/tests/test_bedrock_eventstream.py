"""The incremental event-stream decoder, against frames built in the tests and botocore's reader."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from bedrock_frames import error, event, exception, message, string_header, text_stream
from botocore.eventstream import EventStreamBuffer
from gateway_bedrock.eventstream import EventStreamDecoder, EventStreamError
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.contract.exchanges import cut


def decode_all(pieces: list[bytes]) -> list[tuple[dict, bytes]]:
    decoder = EventStreamDecoder()
    decoded = [(dict(m.headers), m.payload) for piece in pieces for m in decoder.feed(piece)]
    assert decoder.pending == 0
    return decoded


def test_the_test_frames_are_what_botocore_reads() -> None:
    """The fixture builder is right by botocore's own decoder, so it can judge ours."""
    reader = EventStreamBuffer()
    reader.add_data(b"".join(text_stream("Hi there")))
    read = [(m.headers, m.payload) for m in reader]
    assert [h[":event-type"] for h, _ in read] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert decode_all([b"".join(text_stream("Hi there"))]) == read


@settings(deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6),
    offsets=st.lists(st.integers(min_value=1, max_value=2000), max_size=30),
)
def test_messages_come_out_whole_wherever_the_network_cuts(
    texts: list[str], offsets: list[int]
) -> None:
    frames = [
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts
    ]
    whole = b"".join(frames)
    reader = EventStreamBuffer()
    reader.add_data(whole)
    expected = [(m.headers, m.payload) for m in reader]
    assert decode_all(cut(whole, offsets)) == expected


def test_one_byte_at_a_time_yields_each_message_when_its_last_byte_arrives() -> None:
    frame = event("messageStart", {"role": "assistant"})
    decoder = EventStreamDecoder()
    for byte in frame[:-1]:
        assert decoder.feed(bytes([byte])) == []
    (done,) = decoder.feed(frame[-1:])
    assert (done.event_type, done.message_type) == ("messageStart", "event")
    assert done.payload == b'{"role":"assistant"}'


def test_exception_and_error_frames_keep_their_headers() -> None:
    (thrown, failed) = decode_all(
        [exception("throttlingException", "Slow down.") + error("InternalFailure", "Oops.")]
    )
    assert thrown[0][":exception-type"] == "throttlingException"
    assert thrown[1] == b'{"message":"Slow down."}'
    assert failed[0] == {
        ":error-code": "InternalFailure",
        ":error-message": "Oops.",
        ":message-type": "error",
    }
    assert failed[1] == b""


def test_every_header_type_is_read() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers = (
        b"\x01t\x00"
        + b"\x01f\x01"
        + b"\x02i1\x02"
        + struct.pack(">b", -3)
        + b"\x02i2\x03"
        + struct.pack(">h", -300)
        + b"\x02i4\x04"
        + struct.pack(">i", 70000)
        + b"\x02i8\x05"
        + struct.pack(">q", -(2**40))
        + b"\x01b\x06"
        + struct.pack(">H", 3)
        + b"\x00\x01\x02"
        + string_header("s", "text")
        + b"\x02ts\x08"
        + struct.pack(">q", 1_700_000_000_000)
        + b"\x01u\x09"
        + ident.bytes
    )
    ((read, payload),) = decode_all([message(headers, b"{}")])
    assert read == {
        "t": True,
        "f": False,
        "i1": -3,
        "i2": -300,
        "i4": 70000,
        "i8": -(2**40),
        "b": b"\x00\x01\x02",
        "s": "text",
        "ts": 1_700_000_000_000,
        "u": ident,
    }
    assert payload == b"{}"


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@pytest.mark.parametrize(
    ("position", "problem"),
    [
        (1, "prelude checksum"),  # the length itself
        (9, "prelude checksum"),  # the prelude's CRC
        (20, "message checksum"),  # a header byte
        (-6, "message checksum"),  # a payload byte
        (-1, "message checksum"),  # the message CRC
    ],
)
def test_a_flipped_bit_anywhere_fails_loudly(position: int, problem: str) -> None:
    frame = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    with pytest.raises(EventStreamError, match=problem):
        EventStreamDecoder().feed(flip(frame, position % len(frame)))


def test_a_corrupt_length_is_caught_before_waiting_for_it() -> None:
    prelude = struct.pack(">II", 16 + 50 * 1024 * 1024, 0)
    oversized = prelude + struct.pack(">I", zlib.crc32(prelude))
    with pytest.raises(EventStreamError, match="payload too large"):
        EventStreamDecoder().feed(oversized)


@pytest.mark.parametrize(
    "headers",
    [
        string_header("a", "x") + string_header("a", "y"),  # twice
        b"\x01a\x0a",  # type 10 does not exist
        b"\x01a\x07\x00\x09ab",  # says 9 bytes, has 2
    ],
    ids=["duplicate", "unknown-type", "truncated"],
)
def test_malformed_headers_are_refused(headers: bytes) -> None:
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(message(headers, b"{}"))


def test_a_cut_stream_leaves_bytes_pending() -> None:
    frames = b"".join(text_stream())
    decoder = EventStreamDecoder()
    decoded = decoder.feed(frames[:-10])
    assert len(decoded) == 4
    assert decoder.pending > 0
