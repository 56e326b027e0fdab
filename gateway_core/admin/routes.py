"""The admin API blueprint: tenancy, deployments, and the OpenAPI document with its docs page."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, raw

from gateway_core.admin.spec import AdminAPI
from gateway_core.codec import dumps
from gateway_core.tenancy import permissions
from gateway_core.tenancy import routes as tenancy_routes
from gateway_core.tenancy.service import Actor
from gateway_core.usage import routes as usage_routes

PREFIX = "/admin/api"
admin_blueprint = Blueprint("admin_api", url_prefix=PREFIX)
admin_api = AdminAPI(admin_blueprint)


class DeploymentOut(BaseModel):
    model: str
    id: str
    provider: str
    weight: float
    priority: int
    state: str
    retry_in_seconds: float
    times_opened: int
    in_flight: int
    successes: int
    failures: int
    latency_ms: float | None
    ttft_ms: float | None


class DeploymentList(BaseModel):
    object: str
    data: list[DeploymentOut]


@admin_api.operation(
    "GET",
    "/deployments",
    tag="deployments",
    response=DeploymentList,
    summary="Every deployment with circuit state and live statistics",
)
async def list_deployments(actor: Actor, *, request: Request) -> Any:
    permissions.require_reader(actor.identity)
    now = time.monotonic()
    data = [
        {"model": model, **deployment.describe(now)}
        for model, route in request.app.ctx.gateway.router.routes.items()
        for deployment in route.deployments
    ]
    return {"object": "list", "data": data}


tenancy_routes.register(admin_api)
usage_routes.register(admin_api)
_OPENAPI = dumps(admin_api.openapi("Gateway admin API", PREFIX))

DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Gateway admin API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "openapi.json", dom_id: "#ui"});</script>
<noscript>The interactive page needs JavaScript; the document itself is at
<a href="openapi.json">openapi.json</a>.</noscript>
</body></html>"""


@admin_blueprint.get("/openapi.json")
async def openapi(request: Request) -> HTTPResponse:
    return raw(_OPENAPI, content_type="application/json")


@admin_blueprint.get("/docs")
async def docs(request: Request) -> HTTPResponse:
    return html(DOCS_PAGE)
