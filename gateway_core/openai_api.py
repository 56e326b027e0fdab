"""The OpenAI-compatible endpoints under ``/v1``: HTTP in and out of the request path.

Handlers authenticate and hand the body to :mod:`gateway_core.pipeline`, which parses it once,
routes, admits and calls the upstream; responses and streams are relayed as bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core import pipeline
from gateway_core.api import Identity, ProviderReply
from gateway_core.codec import dumps
from gateway_core.errors import GatewayError, InternalError
from gateway_core.gateway import Gateway
from gateway_core.routing import ModelRoute, Served, StreamStart
from gateway_core.sse import DONE_EVENT, error_event

log = logging.getLogger("gateway.requests")

openai_blueprint = Blueprint("openai", url_prefix="/v1")

JSON = "application/json"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _begin(request: Request, operation: str) -> pipeline.Exchange:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    return await pipeline.begin(
        gateway, identity, request.body, operation, request.ctx.request_id, request.headers
    )


@openai_blueprint.post("/chat/completions")
async def chat_completions(request: Request) -> HTTPResponse | None:
    exchange = await _begin(request, "chat")
    if exchange.call.stream:
        served = await pipeline.open_stream(exchange)
        await _relay_stream(request, exchange, served)
        return None
    return _reply(exchange, await pipeline.complete(exchange))


@openai_blueprint.post("/embeddings")
async def embeddings(request: Request) -> HTTPResponse:
    exchange = await _begin(request, "embeddings")
    return _reply(exchange, await pipeline.complete(exchange))


def _reply(exchange: pipeline.Exchange, served: Served[ProviderReply]) -> HTTPResponse:
    headers = _served_by(exchange, served, served.result.headers)
    return raw(served.result.body, content_type=JSON, headers=headers)


def _served_by(
    exchange: pipeline.Exchange, served: Served[Any], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Which deployment and model answered, after how many attempts, and the rate limits."""
    headers = {
        "x-gateway-deployment": served.deployment.id,
        "x-gateway-model": served.route.name,
        "x-gateway-attempts": str(served.attempts),
        **exchange.admission.headers,
    }
    if extra:
        headers.update(extra)
    return headers


async def _relay_stream(
    request: Request, exchange: pipeline.Exchange, served: Served[StreamStart]
) -> None:
    """Forward SSE events as they arrive; the client's pace holds back the upstream.

    The executor has already awaited the first event, so an upstream that refused the request
    produced an ordinary error response (or a retry elsewhere). From here on a failure becomes
    an SSE error event followed by a clean end of stream, and nothing is retried.
    """
    start = served.result
    events = pipeline.tapped(exchange, served)
    outcome: BaseException | None = None
    status = 200
    try:
        response = await request.respond(
            content_type="text/event-stream",
            headers={**STREAM_HEADERS, **_served_by(exchange, served)},
        )
        async for chunk in events:
            await response.send(chunk)
        await response.send(DONE_EVENT)
    except GatewayError as exc:
        outcome, status = exc, exc.status
        log.warning("stream %s failed after it started: %s", request.ctx.request_id, exc.message)
        await response.send(error_event(exc.to_dict()))
    except Exception as exc:
        outcome, status = exc, 500
        log.exception("stream %s failed after it started", request.ctx.request_id)
        await response.send(error_event(InternalError("The stream failed.").to_dict()))
    except BaseException as exc:  # the client went away: cancel upstream, no verdict
        outcome, status = exc, 499
        raise
    finally:
        start.lease.finish(outcome)
        await events.aclose()
        await start.events.aclose()
        await exchange.finish(status, outcome)
    await response.eof()


@openai_blueprint.get("/models")
async def list_models(request: Request) -> HTTPResponse:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    data = [_model_object(route) for route in _visible(gateway, identity)]
    return raw(dumps({"object": "list", "data": data}), content_type=JSON)


@openai_blueprint.get("/models/<model_id:path>")
async def get_model(request: Request, model_id: str) -> HTTPResponse:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    route = gateway.router.resolve(model_id, identity)
    return raw(dumps(_model_object(route)), content_type=JSON)


def _visible(gateway: Gateway, identity: Identity) -> list[ModelRoute]:
    return [route for name, route in gateway.router.routes.items() if identity.may_use(name)]


_STARTED = int(time.time())


def _model_object(route: ModelRoute) -> dict[str, Any]:
    return {"id": route.name, "object": "model", "created": _STARTED, "owned_by": route.owned_by}
