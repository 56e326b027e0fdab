"""The pooled upstream HTTP client every adapter uses.

Bytes travel over aiohttp, which measured several times faster than httpx's default transport
under concurrency on the machines this project runs on (see docs/architecture.md). The request
API mirrors httpx's keyword names, and signing is written as an ordinary ``httpx.Auth``
subclass (SigV4, OAuth bearer tokens...): when ``auth`` is given, the request is built as an
``httpx.Request``, passed through the auth flow, and the signed request is what goes on the wire.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from yarl import URL

from gateway_core.errors import UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    from gateway_core.config import Timeouts


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.read
    )


def _host_of(url: str | URL) -> str:
    parsed = url if isinstance(url, URL) else URL(url)
    return parsed.host or "upstream"


def translate_transport_error(exc: BaseException, url: str | URL) -> UpstreamError:
    """Turn an aiohttp/OS failure into a gateway error that names only the upstream host."""
    host = _host_of(url)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"The upstream at {host} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(f"Could not connect to the upstream at {host}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return UpstreamError(f"The upstream at {host} closed the connection early")
    return UpstreamError(f"The request to the upstream at {host} failed")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class UpstreamResponse:
    """A response whose headers have arrived; the body is read or iterated on demand."""

    __slots__ = ("_response", "_url", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, url: str | URL) -> None:
        self._response = response
        self._url = url
        self.status: int = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise translate_transport_error(exc, self._url) from None

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, in whatever pieces the network delivers."""
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise translate_transport_error(exc, self._url) from None

    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers)


class UpstreamClient:
    """One pooled connection set per worker process, shared by every adapter.

    Open it in the worker (``await client.open()``), close it at shutdown. ``request`` is an
    async context manager yielding an :class:`UpstreamResponse`; leaving it returns the
    connection to the pool (or drops it, if the body was not fully read).
    """

    def __init__(self, *, connections: int = 0, keepalive: float = 60.0) -> None:
        self._connections = connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                limit_per_host=0,
                ttl_dns_cache=300,
                keepalive_timeout=self._keepalive,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.open() has not been awaited in this worker")
        return self._session

    def _timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeouts)
        if cached is None:
            cached = self._timeouts[timeouts] = _client_timeout(timeouts)
        return cached

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        *,
        timeouts: Timeouts,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        auth: httpx.Auth | None = None,
    ) -> AsyncIterator[UpstreamResponse]:
        timeout = self._timeout(timeouts)
        if auth is not None:
            async with self._signed(method, url, headers, content, auth, timeout) as response:
                yield response
            return
        try:
            # Adapters pass URLs already encoded ("%3A" in a model id must stay "%3A").
            async with self.session.request(
                method, URL(url, encoded=True), headers=headers, data=content, timeout=timeout
            ) as raw:
                response = UpstreamResponse(raw, url)
                yield response
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise translate_transport_error(exc, url) from None

    @asynccontextmanager
    async def _signed(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        auth: httpx.Auth,
        client_timeout: aiohttp.ClientTimeout,
    ) -> AsyncIterator[UpstreamResponse]:
        """Run an ``httpx.Auth`` flow, sending each request it yields over aiohttp."""
        flow = auth.async_auth_flow(httpx.Request(method, url, headers=headers, content=content))
        outgoing = await flow.__anext__()
        while True:
            wire_url = URL(str(outgoing.url), encoded=True)
            body = outgoing.content if outgoing.method not in ("GET", "HEAD") else None
            try:
                async with self.session.request(
                    outgoing.method,
                    wire_url,
                    headers=[
                        (name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in outgoing.headers.raw
                    ],
                    data=body,
                    timeout=client_timeout,
                ) as raw:
                    try:
                        outgoing = await flow.asend(_as_httpx_response(raw, outgoing))
                    except StopAsyncIteration:
                        yield UpstreamResponse(raw, wire_url)
                        return
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise translate_transport_error(exc, wire_url) from None


def _as_httpx_response(raw: aiohttp.ClientResponse, request: httpx.Request) -> httpx.Response:
    """A header-only view of an aiohttp response, for auth flows that inspect the challenge."""
    headers: list[tuple[str, Any]] = list(raw.headers.items())
    return httpx.Response(raw.status, headers=headers, request=request)
