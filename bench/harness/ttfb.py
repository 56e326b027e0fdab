"""Time to first byte of streamed answers, with a minimal HTTP/1.1 client on asyncio streams.

wrk reports when a whole response has arrived; for a stream the number a user feels is when
the first ``data:`` event arrives. This client sends streaming requests one after another on
one keep-alive connection and notes, for each, the time from sending the request to the first
``data:`` bytes and to the end of the stream. It also checks that every stream finished with
``data: [DONE]`` and carried no error event.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.stats import summary_ms


class ResponseError(Exception):
    pass


@dataclass
class Sample:
    ttfb: float
    total: float


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _request_bytes(host: str, path: str, body: bytes, key: str | None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(body)}",
    ]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _dechunk(data: bytes) -> tuple[bool, bytes]:
    """(complete, payload so far) for a chunked body."""
    out, pos = bytearray(), 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return False, bytes(out)
        size = int(data[pos:end].split(b";")[0], 16)
        start = end + 2
        if size == 0:
            return data.find(b"\r\n", start) >= 0, bytes(out)
        if len(data) < start + size + 2:
            out += data[start : start + size]
            return False, bytes(out)
        out += data[start : start + size]
        pos = start + size + 2


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[Sample, bool]:
    """One request on an open connection; returns the sample and whether to keep the socket."""
    started = time.perf_counter()
    writer.write(request)
    await writer.drain()
    buffer = bytearray()
    first: float | None = None
    header_end = -1
    status, chunked, length, keep = 0, False, None, True
    while True:
        piece = await reader.read(65536)
        now = time.perf_counter()
        if not piece:
            if header_end >= 0 and length is None and not chunked:
                break  # body delimited by the connection closing
            raise ResponseError("connection closed mid-response")
        buffer += piece
        if header_end < 0:
            header_end = buffer.find(b"\r\n\r\n")
            if header_end < 0:
                continue
            head = bytes(buffer[:header_end]).decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            fields = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip().lower()
            chunked = "chunked" in fields.get("transfer-encoding", "")
            if "content-length" in fields:
                length = int(fields["content-length"])
            keep = fields.get("connection") != "close"
        raw = bytes(buffer[header_end + 4 :])
        if first is None and b"data:" in raw:
            first = now
        if chunked:
            done, body = _dechunk(raw)
        else:
            done, body = length is not None and len(raw) >= length, raw
        if done:
            break
    total = time.perf_counter() - started
    if status != 200:
        raise ResponseError(f"HTTP {status}: {body[:200]!r}")
    if b"data: [DONE]" not in body or b'"error"' in body:
        raise ResponseError(f"incomplete or failed stream: {body[-200:]!r}")
    if first is None:
        raise ResponseError("no data: event in the stream")
    return Sample(first - started, total), keep


async def measure(url: str, body: str, key: str | None, count: int, warmup: int) -> Outcome:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = _request_bytes(f"{host}:{port}", parts.path, body.encode(), key)
    outcome = Outcome()
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        for index in range(warmup + count):
            if connection is None:
                connection = await asyncio.open_connection(host, port)
            reader, writer = connection
            try:
                sample, keep = await asyncio.wait_for(_one(reader, writer, request), 30)
            except (ResponseError, OSError, TimeoutError, ValueError) as exc:
                if index >= warmup:
                    outcome.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                writer.close()
                connection = None
                continue
            if index >= warmup:
                outcome.samples.append(sample)
            if not keep:
                writer.close()
                connection = None
    finally:
        if connection is not None:
            connection[1].close()
    return outcome


def run(url: str, body: str, key: str | None, count: int) -> dict[str, Any]:
    outcome = asyncio.run(measure(url, body, key, count, warmup=max(5, count // 10)))
    return {
        "requests": count,
        "ok": len(outcome.samples),
        "errors": len(outcome.errors),
        "error_examples": outcome.errors[:3],
        "ttfb": summary_ms([s.ttfb for s in outcome.samples]),
        "total": summary_ms([s.total for s in outcome.samples]),
    }
