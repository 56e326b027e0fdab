"""``/v1/files`` and ``/v1/batches``: authenticate, call the service, answer as OpenAI does."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from gateway_core.batches.service import BatchService, file_object
from gateway_core.batches.storage import build_storage
from gateway_core.batches.worker import BatchWorker
from gateway_core.codec import dumps, loads_object
from gateway_core.errors import InvalidRequest, ServiceUnavailable

if TYPE_CHECKING:
    from sanic import Sanic

    from gateway_core.api import Identity
    from gateway_core.gateway import Gateway

log = logging.getLogger("gateway.batches")
batches_blueprint = Blueprint("batches", url_prefix="/v1")
JSON = "application/json"


def _json(value: Any, status: int = 200) -> HTTPResponse:
    return raw(dumps(value), status=status, content_type=JSON)


async def _caller(request: Request) -> tuple[BatchService, Identity]:
    gateway: Gateway = request.app.ctx.gateway
    identity = await gateway.authenticate(request)
    service: BatchService | None = getattr(request.app.ctx, "batches", None)
    if service is None:
        raise ServiceUnavailable("The database is not ready yet.")
    return service, identity


@batches_blueprint.post("/files")
async def upload_file(request: Request) -> HTTPResponse:
    service, identity = await _caller(request)
    upload = request.files.get("file") if request.files else None
    if upload is None:
        raise InvalidRequest("Send the file as multipart form field 'file'.", param="file")
    purpose = request.form.get("purpose") if request.form else None
    return _json(await service.upload(identity, purpose, upload.name or "", upload.body))


@batches_blueprint.get("/files")
async def list_files(request: Request) -> HTTPResponse:
    service, identity = await _caller(request)
    args = request.args
    listing = await service.list_files(
        identity, args.get("limit"), args.get("after"), args.get("purpose")
    )
    return _json(listing)


@batches_blueprint.get("/files/<file_id>")
async def get_file(request: Request, file_id: str) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(file_object(await service.get_file(identity, file_id)))


@batches_blueprint.get("/files/<file_id>/content")
async def file_content(request: Request, file_id: str) -> None:
    service, identity = await _caller(request)
    row = await service.get_file(identity, file_id)
    response = await request.respond(
        content_type="application/jsonl", headers={"content-length": str(row.bytes)}
    )
    async for chunk in service.storage.read(row.id):
        await response.send(chunk)
    await response.eof()


@batches_blueprint.delete("/files/<file_id>")
async def delete_file(request: Request, file_id: str) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(await service.delete_file(identity, file_id))


@batches_blueprint.post("/batches")
async def create_batch(request: Request) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(await service.create_batch(identity, loads_object(request.body)))


@batches_blueprint.get("/batches")
async def list_batches(request: Request) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(
        await service.list_batches(identity, request.args.get("limit"), request.args.get("after"))
    )


@batches_blueprint.get("/batches/<batch_id>")
async def get_batch(request: Request, batch_id: str) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(await service.get_batch(identity, batch_id))


@batches_blueprint.post("/batches/<batch_id>/cancel")
async def cancel_batch(request: Request, batch_id: str) -> HTTPResponse:
    service, identity = await _caller(request)
    return _json(await service.cancel_batch(identity, batch_id))


def install(app: Sanic, gateway: Gateway) -> None:
    """Add the routes, the service once storage is open, and the in-process worker if on."""
    app.blueprint(batches_blueprint)
    settings = gateway.settings.batches

    @app.before_server_start
    async def start_batches(app: Sanic) -> None:
        storage = build_storage(settings)
        app.ctx.batches = BatchService(settings, storage)
        app.ctx.batch_worker_task = None
        if settings.in_process_worker:
            worker = BatchWorker(gateway, storage)
            app.ctx.batch_worker = worker
            app.ctx.batch_worker_task = asyncio.create_task(worker.run())

    @app.before_server_stop
    async def stop_batches(app: Sanic) -> None:
        task = getattr(app.ctx, "batch_worker_task", None)
        if task is not None:
            app.ctx.batch_worker.stop()
            try:
                await asyncio.wait_for(task, gateway.settings.server.graceful_shutdown)
            except TimeoutError:
                task.cancel()
