"""Recorded upstream exchanges: what the upstream must receive, and what it answers.

The same models read fixture files (YAML or JSON) and are built directly in Python, where a
body may also come from a callable: binary stream frames (AWS event streams) are easier to
build in a test than to store.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from pydantic import BaseModel, ConfigDict, Field, ImportString, field_validator, model_validator

from gateway_core.contract.matching import subset_problems

#: A callable (or its ``"module:name"``) that returns bytes, or an iterable of byte pieces.
Builder = ImportString[Callable[[], Any]]

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the fake upstream saw it; ``path`` keeps its percent-encoding."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def describe(self) -> str:
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{self.method} {self.path}{query}"


class RequestExpectation(BaseModel):
    """What the upstream must receive. Every key is optional; each one given is checked.

    ``method`` and ``path`` also decide which exchange answers a request. Header names are
    matched without regard to case; ``header_patterns`` are regular expressions that must match
    the whole value; ``json`` and ``form`` must be contained in the body (extra keys allowed).
    """

    model_config = _STRICT

    method: str | None = None
    path: str | None = None
    query: dict[str, str] = Field(default_factory=dict)
    absent_query: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    header_patterns: dict[str, str] = Field(default_factory=dict)
    absent_headers: list[str] = Field(default_factory=list)
    json_body: Any = Field(None, alias="json")
    absent_keys: list[str] = Field(default_factory=list)
    form: dict[str, str] = Field(default_factory=dict)
    check: Callable[[ReceivedRequest], None] | None = None

    @field_validator("headers", "header_patterns")
    @classmethod
    def _lower_names(cls, value: dict[str, str]) -> dict[str, str]:
        return {name.lower(): text for name, text in value.items()}

    @field_validator("absent_headers")
    @classmethod
    def _lower_list(cls, value: list[str]) -> list[str]:
        return [name.lower() for name in value]

    @field_validator("header_patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: not a regular expression: {exc}") from None
        return value

    def routes(self, received: ReceivedRequest) -> bool:
        """Whether this exchange is the one to answer ``received``."""
        return (self.method is None or self.method.upper() == received.method) and (
            self.path is None or self.path == received.path
        )

    def problems(self, received: ReceivedRequest) -> list[str]:
        found: list[str] = []
        for name, value in self.query.items():
            got = received.query.get(name)
            if got != value:
                found.append(f"query {name}: expected {value!r}, got {got!r}")
        found += [
            f"query {name}: should be absent"
            for name in self.absent_query
            if name in received.query
        ]
        for name, value in self.headers.items():
            got = received.headers.get(name)
            if got != value:
                found.append(f"header {name}: expected {_masked(value)}, got {_masked(got)}")
        for name, pattern in self.header_patterns.items():
            got = received.headers.get(name)
            if got is None or re.fullmatch(pattern, got) is None:
                found.append(f"header {name}: {_masked(got)} does not match {pattern!r}")
        found += [
            f"header {name}: should be absent"
            for name in self.absent_headers
            if name in received.headers
        ]
        if "json_body" in self.model_fields_set or self.absent_keys:
            found += self._json_problems(received)
        if self.form:
            found += subset_problems(self.form, received.form(), "form")
        if self.check is not None:
            try:
                self.check(received)
            except AssertionError as exc:
                found.append(f"check {getattr(self.check, '__name__', 'check')}: {exc}")
        return found

    def _json_problems(self, received: ReceivedRequest) -> list[str]:
        try:
            body = received.json()
        except orjson.JSONDecodeError:
            return [f"body: not JSON ({received.body[:60]!r})"]
        found = []
        if "json_body" in self.model_fields_set:
            found += subset_problems(self.json_body, body, "json")
        if isinstance(body, dict):
            found += [f"json.{key}: should be absent" for key in self.absent_keys if key in body]
        return found


def _masked(value: str | None) -> str:
    """Header values may be credentials: show their shape, not their content."""
    if value is None:
        return "nothing"
    if len(value) <= 12:
        return repr(value)
    return repr(f"{value[:8]}...({len(value)} chars)")


class StreamReply(BaseModel):
    """A response body sent in pieces. Exactly one source: ``events``, ``pieces``,
    ``pieces_base64`` or ``builder``.

    ``events`` are framed as Server-Sent Events (``data: <json>`` and ``separator``; a string is
    used as the data verbatim), followed by ``data: [DONE]`` unless ``done`` is false. The whole
    body can then be re-cut at arbitrary byte offsets (``split_every``, ``split_at``), so that
    pieces end mid-event as they do on real networks. ``delay`` waits between pieces;
    ``break_after`` drops the connection after that many pieces, like a failing upstream.
    """

    model_config = _STRICT

    events: list[Any] | None = None
    pieces: list[str | bytes] | None = None
    pieces_base64: list[str] | None = None
    builder: Builder | None = None
    done: bool = True
    separator: str = "\n\n"
    split_every: int | None = Field(None, ge=1)
    split_at: list[int] | None = None
    delay: float = Field(0.0, ge=0)
    break_after: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> StreamReply:
        sources = ("events", "pieces", "pieces_base64", "builder")
        given = [name for name in sources if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of events, pieces, pieces_base64 and builder")
        if self.split_every is not None and self.split_at is not None:
            raise ValueError("give at most one of split_every and split_at")
        return self

    def body_pieces(self) -> list[bytes]:
        """The pieces to write, in order (builders run anew for every request)."""
        pieces = self._source()
        if self.split_every is None and self.split_at is None:
            return pieces
        whole = b"".join(pieces)
        if self.split_every is not None:
            offsets = list(range(self.split_every, len(whole), self.split_every))
        else:
            offsets = list(self.split_at or [])
        return cut(whole, offsets)

    def _source(self) -> list[bytes]:
        if self.events is not None:
            separator = self.separator.encode()
            framed = [b"data: " + _data(event) + separator for event in self.events]
            return [*framed, b"data: [DONE]" + separator] if self.done else framed
        if self.pieces is not None:
            return [p.encode() if isinstance(p, str) else p for p in self.pieces]
        if self.pieces_base64 is not None:
            return [base64.b64decode(p) for p in self.pieces_base64]
        return _built(self.builder)


def cut(data: bytes, offsets: Iterable[int]) -> list[bytes]:
    """``data`` split at each offset (out-of-range and repeated offsets are ignored)."""
    bounds = sorted({o for o in offsets if 0 < o < len(data)})
    edges = [0, *bounds, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _data(event: Any) -> bytes:
    return event.encode() if isinstance(event, str) else orjson.dumps(event)


def _built(builder: Callable[[], Any] | None) -> list[bytes]:
    assert builder is not None
    made = builder()
    if isinstance(made, bytes | bytearray):
        return [bytes(made)]
    return [bytes(piece) for piece in made]


class UpstreamReply(BaseModel):
    """The recorded response: status, headers and at most one body source.

    ``json`` (a value sent as JSON), ``text``, ``body`` (bytes, from Python), ``body_base64``,
    ``builder`` (a callable returning bytes) or ``stream`` (a :class:`StreamReply`). ``delay``
    waits before the response starts.
    """

    model_config = _STRICT

    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")
    text: str | None = None
    body: bytes | None = None
    body_base64: str | None = None
    builder: Builder | None = None
    stream: StreamReply | None = None
    delay: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _at_most_one_body(self) -> UpstreamReply:
        sources = ("json_body", "text", "body", "body_base64", "builder", "stream")
        given = [name for name in sources if name in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"give at most one body source, not {', '.join(given)}")
        return self

    def content_type(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        if self.stream is not None:
            return "text/event-stream"
        if "json_body" in self.model_fields_set:
            return "application/json"
        return "application/octet-stream" if self.text is None else "text/plain"

    def whole_body(self) -> bytes:
        """The body of a response that is not streamed."""
        if "json_body" in self.model_fields_set:
            return orjson.dumps(self.json_body)
        if self.text is not None:
            return self.text.encode()
        if self.body is not None:
            return self.body
        if self.body_base64 is not None:
            return base64.b64decode(self.body_base64)
        if self.builder is not None:
            return b"".join(_built(self.builder))
        return b""


class Exchange(BaseModel):
    """One recorded round trip with the upstream.

    ``times`` is how many requests it must answer (``null``: any number, none included; use
    that for a token endpoint whose answer the adapter caches).
    """

    model_config = _STRICT

    request: RequestExpectation = Field(default_factory=RequestExpectation)
    response: UpstreamReply = Field(default_factory=UpstreamReply)
    times: int | None = Field(1, ge=0)

    def describe(self) -> str:
        method = self.request.method or "any method"
        return f"{method} {self.request.path or 'any path'}"
