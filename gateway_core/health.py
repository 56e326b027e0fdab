"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.codec import dumps

health_blueprint = Blueprint("health")

_ALIVE = b'{"status":"ok"}'
READINESS_TIMEOUT = 2.0


@health_blueprint.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    """The process is up and its event loop answers."""
    return raw(_ALIVE, content_type="application/json")


@health_blueprint.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    """Every dependency answers, and the worker is not shutting down."""
    gateway = request.app.ctx.gateway
    checks: dict[str, str] = {}
    ready = not gateway.draining
    if gateway.draining:
        checks["server"] = "draining"
    for name, check in gateway.readiness_checks.items():
        try:
            await asyncio.wait_for(check(), READINESS_TIMEOUT)
        except Exception as exc:
            ready = False
            checks[name] = f"failing: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return raw(dumps(body), status=200 if ready else 503, content_type="application/json")
