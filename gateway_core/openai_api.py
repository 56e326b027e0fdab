"""The OpenAI-compatible endpoints under ``/v1``: the hot path.

Each handler authenticates, parses the body once, checks only what routing needs, and hands a
:class:`~gateway_core.api.ProviderCall` to the chosen deployment. Responses from the upstream
are relayed as bytes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.api import Identity, ProviderCall
from gateway_core.codec import dumps, loads_object
from gateway_core.errors import GatewayError, InternalError, InvalidRequest
from gateway_core.gateway import Gateway
from gateway_core.routing import ModelRoute
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
    deployment = route.pick()
    if call.stream:
        await _relay_stream(request, deployment.adapter.stream_chat(call), deployment.id)
        return None
    reply = await deployment.adapter.chat(call)
    return raw(reply.body, content_type=JSON, headers=_served_by(deployment.id, reply.headers))


@openai_blueprint.post("/embeddings")
async def embeddings(request: Request) -> HTTPResponse:
    route, call = await _prepare(request, "embeddings")
    deployment = route.pick()
    reply = await deployment.adapter.embeddings(call)
    return raw(reply.body, content_type=JSON, headers=_served_by(deployment.id, reply.headers))


def _served_by(deployment_id: str, extra: Any = None) -> dict[str, str]:
    headers = {"x-gateway-deployment": deployment_id}
    if extra:
        headers.update(extra)
    return headers


async def _relay_stream(request: Request, events: Any, deployment_id: str) -> None:
    """Forward SSE events as they arrive; the client's pace holds back the upstream.

    The first event is awaited before any header is sent, so an upstream that refuses the
    request still produces an ordinary error response (and the router may try elsewhere).
    After that, a failure becomes an SSE error event followed by a clean end of stream.
    """
    try:
        first = await anext(events, b"")
    except BaseException:
        await events.aclose()
        raise
    response = await request.respond(
        content_type="text/event-stream",
        headers={**STREAM_HEADERS, **_served_by(deployment_id)},
    )
    try:
        if first:
            await response.send(first)
        async for chunk in events:
            await response.send(chunk)
        await response.send(DONE_EVENT)
    except GatewayError as exc:
        log.warning("stream %s failed after it started: %s", request.ctx.request_id, exc.message)
        await response.send(error_event(exc.to_dict()))
    except Exception:
        log.exception("stream %s failed after it started", request.ctx.request_id)
        await response.send(error_event(InternalError("The stream failed.").to_dict()))
    finally:
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
