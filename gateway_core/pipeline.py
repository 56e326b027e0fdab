"""The request path: authenticate -> resolve -> admit -> call -> settle and record.

An :class:`Exchange` carries one client request through these steps; the handlers in
``openai_api`` only translate between HTTP and this module. Usage is learnt without parsing what
can be passed through: a plain response's body is read for its ``usage`` object only when
something consumes usage, and a stream is tapped for its final usage chunk (asked from the
upstream on the client's behalf, and removed again if the client did not ask for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway_core.api import Identity, ProviderCall, ProviderReply, UsageEvent
from gateway_core.codec import dumps, loads_object
from gateway_core.errors import GatewayError, InvalidRequest
from gateway_core.limits import UNLIMITED, Admission
from gateway_core.limits.estimate import estimate_prompt_tokens
from gateway_core.routing import ModelRoute, Served, StreamStart
from gateway_core.routing.executor import unsupported
from gateway_core.usage.records import StreamUsageTap, Usage, usage_from_body

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from gateway_core.gateway import Gateway

log = logging.getLogger("gateway.requests")


@dataclass(slots=True)
class Exchange:
    """One client request on its way through the gateway."""

    gateway: Gateway
    identity: Identity
    route: ModelRoute
    call: ProviderCall
    deadline: float | None
    client_wants_usage: bool = False
    admission: Admission = UNLIMITED
    started: float = field(default_factory=time.monotonic)
    timestamp: float = field(default_factory=time.time)
    served: Served[Any] | None = None
    usage: Usage | None = None
    ttft: float | None = None
    usage_estimated: bool = False
    finished: bool = False

    async def finish(self, status: int, error: BaseException | None = None) -> None:
        """Settle limits and record one usage event; safe to call more than once."""
        if self.finished:
            return
        self.finished = True
        gateway, served = self.gateway, self.served
        deployment = served.deployment if served is not None else None
        cost = gateway.pricing.cost(deployment.id, self.usage) if deployment is not None else None
        try:
            await self.admission.settle(self.usage, cost)
        except Exception:
            log.exception("settling limits of request %s failed", self.call.request_id)
        if not gateway.usage.active:
            return
        usage = self.usage
        gateway.usage.emit(
            UsageEvent(
                request_id=self.call.request_id,
                timestamp=self.timestamp,
                public_model=self.call.public_model,
                status=status,
                subject=self.identity.subject,
                team_id=self.identity.team_id,
                end_user=_end_user(self.call.body),
                deployment_id=deployment.id if deployment is not None else None,
                provider=deployment.provider if deployment is not None else None,
                attempts=served.attempts if served is not None else _attempts(error),
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                cached_prompt_tokens=usage.cached_prompt_tokens if usage else None,
                cost=cost,
                latency_ms=(time.monotonic() - self.started) * 1000,
                ttft_ms=self.ttft * 1000 if self.ttft is not None else None,
                streamed=self.call.stream,
                error_code=_error_code(error),
                estimated=self.usage_estimated,
            )
        )


def _end_user(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    return user if isinstance(user, str) and user else None


def _error_code(error: BaseException | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, GatewayError):
        return error.code or error.type
    if isinstance(error, asyncio.CancelledError):
        return "client_disconnected"
    return "internal_error"


def _attempts(error: BaseException | None) -> int:
    if isinstance(error, GatewayError):
        value = error.headers.get("x-gateway-attempts")
        if value is not None and value.isdigit():
            return int(value)
    return 0


# -- request validation --------------------------------------------------------------------


def require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    return model


def check_chat(body: dict[str, Any]) -> bool:
    """Validate what routing and streaming depend on; return whether the client streams."""
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"'messages[{index}]' must be an object with a string 'role'.",
                param=f"messages[{index}]",
            )
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise InvalidRequest(
                "'stream_options' is only allowed when 'stream' is true.", param="stream_options"
            )
        if not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        include_usage = options.get("include_usage")
        if include_usage is not None and not isinstance(include_usage, bool):
            raise InvalidRequest(
                "'stream_options.include_usage' must be a boolean.",
                param="stream_options.include_usage",
            )
    return stream


def check_embeddings(body: dict[str, Any]) -> None:
    value = body.get("input")
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' must be a string or a non-empty array of strings or token ids.",
            param="input",
        )


# -- the steps -----------------------------------------------------------------------------


async def begin(
    gateway: Gateway,
    identity: Identity,
    body_bytes: bytes,
    operation: str,
    request_id: str,
    headers: Mapping[str, str],
) -> Exchange:
    """Parse, resolve and admit; the exchange returned must be finished by the caller."""
    body = loads_object(body_bytes)
    model = require_model(body)
    stream = check_chat(body) if operation == "chat" else False
    if operation == "embeddings":
        check_embeddings(body)
    route = gateway.router.resolve(model, identity)
    if operation not in route.operations:
        raise unsupported(model, operation)
    client_wants_usage = bool(stream and (body.get("stream_options") or {}).get("include_usage"))
    if stream and not client_wants_usage and gateway.needs_usage:
        body = {
            **body,
            "stream_options": {**(body.get("stream_options") or {}), "include_usage": True},
        }
        body_bytes = dumps(body)
    call = ProviderCall(operation, body, body_bytes, model, stream, request_id)
    exchange = Exchange(
        gateway,
        identity,
        route,
        call,
        gateway.executor.deadline_for(headers),
        client_wants_usage=client_wants_usage,
    )
    exchange.admission = await gateway.limits.admit(exchange)
    return exchange


async def complete(exchange: Exchange) -> Served[ProviderReply]:
    """A non-streaming call; the exchange is finished whatever happens."""
    gateway = exchange.gateway
    try:
        served = await gateway.executor.complete(
            exchange.call, exchange.route, exchange.deadline, exchange.admission
        )
    except BaseException as error:
        await exchange.finish(_status(error), error)
        raise
    exchange.served = served
    if gateway.needs_usage:
        exchange.usage = usage_from_body(served.result.body)
    await exchange.finish(200)
    return served


async def open_stream(exchange: Exchange) -> Served[StreamStart]:
    """Start a stream (retries happen here); finish the exchange with :func:`relay` or on error."""
    try:
        served = await exchange.gateway.executor.open_stream(
            exchange.call, exchange.route, exchange.deadline, exchange.admission
        )
    except BaseException as error:
        await exchange.finish(_status(error), error)
        raise
    exchange.served = served
    exchange.ttft = time.monotonic() - exchange.started
    return served


async def tapped(exchange: Exchange, served: Served[StreamStart]) -> AsyncIterator[bytes]:
    """The stream's events as the client should see them, with usage noted on the way."""
    start = served.result
    if not exchange.gateway.needs_usage:
        if start.first:
            yield start.first
        async for run in start.events:
            yield run
        return
    tap = StreamUsageTap(strip=not exchange.client_wants_usage)
    try:
        visible = tap.inspect(start.first) if start.first else b""
        if visible:
            yield visible
        async for run in start.events:
            visible = tap.inspect(run)
            if visible:
                yield visible
    finally:
        exchange.usage = tap.usage
        if tap.usage is None:
            prompt = estimate_prompt_tokens(exchange.call.operation, exchange.call.body)
            exchange.usage = Usage(
                prompt_tokens=prompt,
                completion_tokens=tap.content_pieces,
                total_tokens=prompt + tap.content_pieces,
            )
            exchange.usage_estimated = True


def _status(error: BaseException) -> int:
    if isinstance(error, GatewayError):
        return error.status
    if isinstance(error, asyncio.CancelledError):
        return 499  # the client closed the request
    return 500
