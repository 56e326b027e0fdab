"""A plugin whose startup and shutdown hooks return awaitables, and which adds a route."""

from __future__ import annotations

import asyncio

from sanic import Blueprint
from sanic.response import json

from gateway_core import hookimpl

EVENTS: list[str] = []
blueprint = Blueprint("lifecycle_probe")


@blueprint.get("/probe/lifecycle")
async def probe(request):
    return json({"events": EVENTS})


@hookimpl
def gateway_register_routes(app, settings) -> None:
    app.blueprint(blueprint)


@hookimpl
def gateway_startup(app, settings):
    async def opened() -> None:
        await asyncio.sleep(0)
        EVENTS.append("started")

    return opened()


@hookimpl
def gateway_shutdown(app):
    async def closed() -> None:
        EVENTS.append("stopped")

    return closed()
