"""Sending a case's request with the official ``openai`` SDK while keeping the exact bytes.

The SDK is the client most callers use, so it drives every request: a reply it cannot parse
is a failure. Its parsed objects do not show framing, though, so an httpx transport keeps a
copy of each response's bytes as the SDK reads them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway_core.contract.cases import ClientRequest
from gateway_core.contract.shapes import Reply


@dataclass(slots=True)
class _Recorded:
    status: int
    headers: httpx.Headers
    body: bytearray = field(default_factory=bytearray)


class _Tee(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._inner:
            self._sink += piece
            yield piece

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that copies every response body as it is read."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.replies: list[_Recorded] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        recorded = _Recorded(response.status_code, response.headers)
        self.replies.append(recorded)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, recorded.body),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()


@dataclass(slots=True)
class SentRequest:
    """The reply as received, and what the SDK raised reading it (``None`` if nothing)."""

    reply: Reply
    raised: Exception | None


def send_with_sdk(
    base_url: str, api_key: str, model: str, request: ClientRequest, timeout: float
) -> SentRequest:
    """Send ``request`` for ``model`` through the SDK, reading streams to the end."""
    import openai  # the SDK is a test dependency: import it only when a case runs

    transport = RecordingTransport()
    raised: Exception | None = None
    with httpx.Client(
        transport=transport, timeout=timeout, headers={"Accept-Encoding": "identity"}
    ) as http:
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, http_client=http)
        body = {**request.body, "model": model}
        try:
            if request.operation == "embeddings":
                _call(client.embeddings.create, body)
            elif request.stream:
                for _chunk in _call(client.chat.completions.create, body):
                    pass
            else:
                _call(client.chat.completions.create, body)
        except Exception as exc:  # every failure is evidence; the kit decides what it means
            raised = exc
    if not transport.replies:
        raise AssertionError(f"the request never got a response: {raised!r}") from raised
    recorded = transport.replies[-1]
    return SentRequest(Reply(recorded.status, recorded.headers, bytes(recorded.body)), raised)


def _call(method: Callable[..., Any], body: dict[str, Any]) -> Any:
    """Call an SDK method with the body's known parameters; the rest travel as extra_body."""
    accepted = inspect.signature(method).parameters
    known = {key: value for key, value in body.items() if key in accepted}
    extra = {key: value for key, value in body.items() if key not in accepted}
    return method(**known, extra_body=extra or None)
