"""The upstream client: httpx.Auth signing over aiohttp, error translation, Retry-After, SSE."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import time
from collections.abc import AsyncIterator, Generator

import httpx
import orjson
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.config import Timeouts
from gateway_core.errors import UpstreamError, UpstreamTimeout
from gateway_core.http import UpstreamClient, parse_retry_after
from gateway_core.sse import complete_events
from gateway_core.testing import free_port

FAST = Timeouts(connect=1, read=0.3, total=2)


async def echo(request: web.Request) -> web.Response:
    if request.path.endswith("/slow"):
        await asyncio.sleep(1)
    if request.path.endswith("/challenge") and request.headers.get("Authorization") != "Token t2":
        return web.Response(status=401, headers={"WWW-Authenticate": "Token realm=t2"})
    body = await request.read()
    payload = {
        "method": request.method,
        "raw_path": request.raw_path,
        "headers": {str(k): v for k, v in request.headers.items()},
        "body": body.decode(),
    }
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def with_server(test) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = UpstreamClient()
    await client.open()
    try:
        await test(client, f"http://127.0.0.1:{port}")
    finally:
        await client.close()
        await runner.cleanup()


class SigningAuth(httpx.Auth):
    """Signs the path and body as they will go on the wire, like SigV4 does."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Signature"] = f"{request.url.raw_path.decode()}|{len(request.content)}"
        yield request


class ChallengeAuth(httpx.Auth):
    """Answers a 401 challenge with a second request, like Digest auth does."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code == 401:
            realm = response.headers["WWW-Authenticate"].split("=", 1)[1]
            request.headers["Authorization"] = f"Token {realm}"
            yield request


def test_auth_signs_the_exact_wire_request() -> None:
    async def check(client: UpstreamClient, base: str) -> None:
        url = f"{base}/model/us.anthropic.claude%3A0/converse"
        async with client.request(
            "POST",
            url,
            content=b'{"a":1}',
            timeouts=FAST,
            headers={"Content-Type": "application/json"},
            auth=SigningAuth(),
        ) as response:
            seen = orjson.loads(await response.read())
        assert seen["raw_path"] == "/model/us.anthropic.claude%3A0/converse"
        assert seen["headers"]["X-Signature"] == "/model/us.anthropic.claude%3A0/converse|7"
        assert seen["body"] == '{"a":1}'

    asyncio.run(with_server(check))


def test_auth_flow_that_reads_the_response() -> None:
    async def check(client: UpstreamClient, base: str) -> None:
        async with client.request(
            "GET", f"{base}/challenge", timeouts=FAST, auth=ChallengeAuth()
        ) as response:
            assert response.status == 200
            assert orjson.loads(await response.read())["headers"]["Authorization"] == "Token t2"

    asyncio.run(with_server(check))


def test_timeouts_and_refused_connections_become_gateway_errors() -> None:
    async def check(client: UpstreamClient, base: str) -> None:
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            async with client.request("GET", f"{base}/slow", timeouts=FAST) as response:
                await response.read()
        with pytest.raises(UpstreamError, match="Could not connect") as caught:
            async with client.request("GET", f"http://127.0.0.1:{free_port()}/x", timeouts=FAST):
                pass
        assert not isinstance(caught.value, UpstreamTimeout)

    asyncio.run(with_server(check))


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "7"}) == 7
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after({"retry-after": later}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


events_strategy = st.lists(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
        min_size=1,
        max_size=30,
    ),
    min_size=1,
    max_size=12,
)


@given(payloads=events_strategy, cuts=st.lists(st.integers(0, 400), max_size=10))
def test_regrouped_events_are_whole_and_lossless(payloads: list[str], cuts: list[int]) -> None:
    """However the network splits a stream, only whole events come out, all of them, in order."""
    stream = b"".join(b"data: " + p.encode() + b"\n\n" for p in payloads)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(points)]

    async def run() -> list[bytes]:
        async def source() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        return [group async for group in complete_events(source())]

    groups = asyncio.run(run())
    assert b"".join(groups) == stream
    for group in groups:
        assert group.endswith(b"\n\n")
        assert all(event.startswith(b"data: ") for event in group[:-2].split(b"\n\n"))


def test_unsigned_requests_keep_the_path_encoding() -> None:
    async def check(client: UpstreamClient, base: str) -> None:
        url = f"{base}/model/us.anthropic.claude%3A0/invoke"
        async with client.request("POST", url, content=b"{}", timeouts=FAST) as response:
            seen = orjson.loads(await response.read())
        assert seen["raw_path"] == "/model/us.anthropic.claude%3A0/invoke"

    asyncio.run(with_server(check))
