"""A fake upstream on loopback that answers with recorded exchanges and remembers what it got.

It runs an aiohttp server on its own event loop in a background thread, so that synchronous
tests (and the official ``openai`` SDK they drive) can use it while the gateway, in its own
process, talks to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from gateway_core.contract.exchanges import Exchange, ReceivedRequest

NO_EXCHANGE_STATUS = 501


class Armed:
    """The exchanges of one case, the requests each answered, and requests none answered."""

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self.exchanges = list(exchanges)
        self.received: list[list[ReceivedRequest]] = [[] for _ in self.exchanges]
        self.unexpected: list[ReceivedRequest] = []

    def answer_for(self, request: ReceivedRequest) -> Exchange | None:
        """The first exchange that routes ``request`` and has answers left; records the request."""
        for exchange, seen in zip(self.exchanges, self.received, strict=True):
            if exchange.request.routes(request) and (
                exchange.times is None or len(seen) < exchange.times
            ):
                seen.append(request)
                return exchange
        self.unexpected.append(request)
        return None

    def problems(self) -> list[str]:
        found = []
        for index, (exchange, seen) in enumerate(zip(self.exchanges, self.received, strict=True)):
            label = f"upstream exchange {index} ({exchange.describe()})"
            if exchange.times is not None and len(seen) != exchange.times:
                found.append(f"{label}: expected {exchange.times} request(s), received {len(seen)}")
            for number, request in enumerate(seen):
                found += [
                    f"{label}, request {number} ({request.describe()}): {problem}"
                    for problem in exchange.request.problems(request)
                ]
        found += [
            f"unexpected upstream request {request.describe()}: no exchange of the case answers it"
            for request in self.unexpected
        ]
        return found


class ReplayUpstream:
    """Start it, ``arm`` it with a case's exchanges before each request, read what it received."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._armed = Armed([])
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplayUpstream:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="replay-upstream", daemon=True
        )
        self._thread.start()
        self._run(self._open())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            self._run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> ReplayUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def arm(self, exchanges: Sequence[Exchange]) -> Armed:
        """Answer the next requests with ``exchanges`` (replacing what was armed before)."""
        armed = Armed(exchanges)

        async def install() -> None:
            self._armed = armed

        self._run(install())
        return armed

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            raise RuntimeError("the replay upstream is not running")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    async def _open(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        received = ReceivedRequest(
            method=request.method,
            path=request.rel_url.raw_path,
            query=dict(request.rel_url.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.read(),
        )
        exchange = self._armed.answer_for(received)
        if exchange is None:
            message = f"contract kit: no recorded exchange answers {received.describe()}"
            return web.Response(
                status=NO_EXCHANGE_STATUS,
                body=orjson.dumps({"error": {"message": message, "type": "contract_kit"}}),
                content_type="application/json",
            )
        reply = exchange.response
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = CIMultiDict(reply.headers)
        headers["Content-Type"] = reply.content_type()
        if reply.stream is None:
            return web.Response(status=reply.status, headers=headers, body=reply.whole_body())
        response = web.StreamResponse(status=reply.status, headers=headers)
        await response.prepare(request)
        stream = reply.stream
        for index, piece in enumerate(stream.body_pieces()):
            if stream.break_after is not None and index >= stream.break_after:
                if request.transport is not None:
                    request.transport.close()  # the upstream fails mid-stream
                return response
            if index and stream.delay:
                await asyncio.sleep(stream.delay)
            await response.write(piece)
        await response.write_eof()
        return response
