"""The Sanic application factory.

``create_app(settings)`` builds a fresh app with its own plugin manager and registries: tests
make one per test, and each worker process makes its own through :func:`load_app`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING, Any

from sanic import HTTPResponse, Request, Sanic
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler

from gateway_core import errors
from gateway_core.admin import admin_blueprint
from gateway_core.batches.routes import install as install_batches
from gateway_core.config import Settings, load_settings
from gateway_core.gateway import Gateway
from gateway_core.health import health_blueprint
from gateway_core.logs import configure_logging
from gateway_core.metrics import build_registry, metrics_blueprint
from gateway_core.openai_api import openai_blueprint
from gateway_core.request_ids import HEADER, choose_request_id
from gateway_core.usage.routes import own_usage_blueprint

if TYPE_CHECKING:
    from types import ModuleType

log = logging.getLogger("gateway")
_app_numbers = itertools.count(1)

_SANIC_STATUS_MAP: dict[int, type[errors.GatewayError]] = {
    400: errors.InvalidRequest,
    401: errors.AuthenticationFailed,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    413: errors.PayloadTooLarge,
    503: errors.ServiceUnavailable,
}


def as_gateway_error(
    request: Request | None, exception: BaseException, limit: int
) -> errors.GatewayError:
    """Map any exception to the error a client sees; unexpected ones are logged, not shown."""
    if isinstance(exception, errors.GatewayError):
        return exception
    if isinstance(exception, SanicException):
        status = exception.status_code
        if status == 413:
            return errors.PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        if status == 404:
            path = request.path if request is not None else "this path"
            return errors.NotFound(f"Unknown path: {path}", code="unknown_url")
        if status == 405:
            method = request.method if request is not None else "this method"
            return errors.InvalidRequest(
                f"Method {method} is not allowed here.", code="method_not_allowed", status=405
            )
        if status in (408, 504):
            return errors.GatewayError("The request took too long.", code="timeout", status=status)
        kind = _SANIC_STATUS_MAP.get(status)
        if kind is not None:
            return kind(str(exception) or "Bad request.")
    request_id = getattr(getattr(request, "ctx", None), "request_id", None)
    if isinstance(exception, asyncio.CancelledError):
        # The client went away; nobody will read this answer and nothing is broken.
        log.debug("request %s cancelled by the client", request_id)
        return errors.GatewayError(
            "The client closed the request.", code="client_closed", status=499
        )
    log.error("unhandled error for request %s", request_id, exc_info=exception)
    return errors.InternalError(
        f"The gateway failed to handle this request (request id {request_id})."
    )


class OpenAIErrorHandler(ErrorHandler):
    """Every error, including Sanic's own, leaves in the OpenAI error shape."""

    def __init__(self, body_limit: int) -> None:
        super().__init__()
        self.body_limit = body_limit

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        error = as_gateway_error(request, exception, self.body_limit)
        ctx = getattr(request, "ctx", None)
        request_id = getattr(ctx, "request_id", None)
        if request_id is None:
            request_id = choose_request_id(request.headers.get(HEADER) if request else None)
        headers = {**error.headers, HEADER: request_id}
        return HTTPResponse(
            error.to_json(), status=error.status, headers=headers, content_type="application/json"
        )


def create_app(
    settings: Settings,
    *,
    extra_plugins: dict[str, ModuleType | object] | None = None,
    name: str | None = None,
) -> Sanic:
    """A ready-to-serve app: plugins loaded, config validated, routes added."""
    gateway = Gateway(settings, extra_plugins)
    app = Sanic(name or f"gateway_{next(_app_numbers)}")
    server = settings.server
    app.config.update(
        REQUEST_MAX_SIZE=server.max_body_bytes,
        KEEP_ALIVE_TIMEOUT=server.keep_alive_timeout,
        RESPONSE_TIMEOUT=server.response_timeout,
        GRACEFUL_SHUTDOWN_TIMEOUT=server.graceful_shutdown,
        FALLBACK_ERROR_FORMAT="json",
        ACCESS_LOG=server.access_log,
        MOTD=False,
        TOUCHUP=False,
    )
    app.error_handler = OpenAIErrorHandler(server.max_body_bytes)
    app.ctx.gateway = gateway

    @app.on_request(priority=100)
    async def assign_request_id(request: Request) -> None:
        request.ctx.request_id = choose_request_id(request.headers.get(HEADER))

    @app.on_response(priority=100)
    async def send_request_id(request: Request, response: HTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None)
        if request_id is not None:
            response.headers[HEADER] = request_id

    app.ctx.metrics_registry = build_registry(gateway)
    app.blueprint(openai_blueprint)
    app.blueprint(health_blueprint)
    app.blueprint(metrics_blueprint)
    app.blueprint(admin_blueprint)
    app.blueprint(own_usage_blueprint)
    gateway.plugins.hook.gateway_register_routes(app=app, settings=settings)

    @app.before_server_start
    async def start_gateway(app: Sanic) -> None:
        await gateway.start(app)

    install_batches(app, gateway)  # after start_gateway: its listeners need the database

    @app.before_server_stop
    async def begin_draining(app: Sanic) -> None:
        gateway.draining = True

    @app.after_server_stop
    async def stop_gateway(app: Sanic) -> None:
        await gateway.stop(app)

    return app


def load_app(config_path: str | None = None, overrides: dict[str, Any] | None = None) -> Sanic:
    """The factory each worker process calls: read the config, apply CLI overrides, build."""
    configure_logging()
    settings = load_settings(config_path)
    if overrides:
        server = settings.server.model_copy(update=overrides)
        settings = settings.model_copy(update={"server": server})
    return create_app(settings, name="gateway")
