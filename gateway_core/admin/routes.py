"""Admin endpoints. Every one requires an identity with an admin-capable role."""

from __future__ import annotations

import time

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.api import Identity
from gateway_core.codec import dumps
from gateway_core.errors import PermissionDenied

admin_blueprint = Blueprint("admin_api", url_prefix="/admin/api")

READ_ROLES = frozenset({"admin", "viewer", "team_admin"})


async def require_reader(request: Request) -> Identity:
    identity = await request.app.ctx.gateway.authenticate(request)
    if identity.role not in READ_ROLES and identity.method != "none":
        raise PermissionDenied("This endpoint needs an admin role.")
    return identity


@admin_blueprint.get("/deployments")
async def deployments(request: Request) -> HTTPResponse:
    """Every deployment of every model, with circuit state and live statistics (this worker)."""
    await require_reader(request)
    now = time.monotonic()
    data = [
        {"model": model, **deployment.describe(now)}
        for model, route in request.app.ctx.gateway.router.routes.items()
        for deployment in route.deployments
    ]
    return raw(dumps({"object": "list", "data": data}), content_type="application/json")
