"""The OpenAI-compatible endpoints under ``/v1``: the hot path.

Each handler authenticates, parses the body once, checks only what routing needs, and hands a
:class:`~gateway_core.api.ProviderCall` to the chosen deployment. Responses from the upstream
are relayed as bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.api import Identity, ProviderCall, ProviderReply
from gateway_core.codec import dumps, loads_object
from gateway_core.errors import GatewayError, InternalError, InvalidRequest
from gateway_core.gateway import Gateway
from gateway_core.routing import ModelRoute, Served, StreamStart
from gateway_core.sse import DONE_EVENT, error_event

log = logging.getLogger("gateway.requests")

openai_blueprint = Blueprint("openai", url_prefix="/v1")

JSON = "application/json"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    return model


def _check_chat(body: dict[str, Any]) -> bool:
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


def _check_embeddings(body: dict[str, Any]) -> None:
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


async def _prepare(request: Request, operation: str) -> tuple[ModelRoute, ProviderCall]:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    body = loads_object(request.body)
    model = _require_model(body)
    stream = _check_chat(body) if operation == "chat" else False
    if operation == "embeddings":
        _check_embeddings(body)
    route = gateway.router.resolve(model, identity)
    call = ProviderCall(operation, body, request.body, model, stream, request.ctx.request_id)
    return route, call


@openai_blueprint.post("/chat/completions")
async def chat_completions(request: Request) -> HTTPResponse | None:
    route, call = await _prepare(request, "chat")
    executor = request.app.ctx.gateway.executor
    deadline = executor.deadline_for(request.headers)
    if call.stream:
        served = await executor.open_stream(call, route, deadline)
        await _relay_stream(request, served)
        return None
    return _reply(await executor.complete(call, route, deadline))


@openai_blueprint.post("/embeddings")
async def embeddings(request: Request) -> HTTPResponse:
    route, call = await _prepare(request, "embeddings")
    executor = request.app.ctx.gateway.executor
    return _reply(await executor.complete(call, route, executor.deadline_for(request.headers)))


def _reply(served: Served[ProviderReply]) -> HTTPResponse:
    return raw(
        served.result.body, content_type=JSON, headers=_served_by(served, served.result.headers)
    )


def _served_by(served: Served[Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Which deployment and model answered, and after how many attempts."""
    headers = {
        "x-gateway-deployment": served.deployment.id,
        "x-gateway-model": served.route.name,
        "x-gateway-attempts": str(served.attempts),
    }
    if extra:
        headers.update(extra)
    return headers


async def _relay_stream(request: Request, served: Served[StreamStart]) -> None:
    """Forward SSE events as they arrive; the client's pace holds back the upstream.

    The executor has already awaited the first event, so an upstream that refused the request
    produced an ordinary error response (or a retry elsewhere). From here on a failure becomes
    an SSE error event followed by a clean end of stream, and nothing is retried.
    """
    start = served.result
    events, outcome = start.events, None
    try:
        response = await request.respond(
            content_type="text/event-stream", headers={**STREAM_HEADERS, **_served_by(served)}
        )
    except BaseException as exc:
        start.lease.finish(exc)
        await events.aclose()
        raise
    try:
        if start.first:
            await response.send(start.first)
        async for chunk in events:
            await response.send(chunk)
        await response.send(DONE_EVENT)
    except GatewayError as exc:
        outcome = exc
        log.warning("stream %s failed after it started: %s", request.ctx.request_id, exc.message)
        await response.send(error_event(exc.to_dict()))
    except Exception as exc:
        outcome = exc
        log.exception("stream %s failed after it started", request.ctx.request_id)
        await response.send(error_event(InternalError("The stream failed.").to_dict()))
    except BaseException as exc:  # the client went away: cancel upstream, no verdict
        outcome = exc
        raise
    finally:
        start.lease.finish(outcome)
        await events.aclose()
    await response.eof()


@openai_blueprint.get("/models")
async def list_models(request: Request) -> HTTPResponse:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    data = [_model_object(route, gateway) for route in _visible(gateway, identity)]
    return raw(dumps({"object": "list", "data": data}), content_type=JSON)


@openai_blueprint.get("/models/<model_id:path>")
async def get_model(request: Request, model_id: str) -> HTTPResponse:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    route = gateway.router.resolve(model_id, identity)
    return raw(dumps(_model_object(route, gateway)), content_type=JSON)


def _visible(gateway: Gateway, identity: Identity) -> list[ModelRoute]:
    return [route for name, route in gateway.router.routes.items() if identity.may_use(name)]


_STARTED = int(time.time())


def _model_object(route: ModelRoute, gateway: Gateway) -> dict[str, Any]:
    return {"id": route.name, "object": "model", "created": _STARTED, "owned_by": route.owned_by}
