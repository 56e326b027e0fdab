"""Files and batches as a key sees them: visibility, validation, the OpenAI objects.

Routes and the CLI call this; it decides, the repository fetches. A key sees the files and
batches of its team, or its own when it has no team.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from gateway_core.api import Identity
from gateway_core.batches import lifecycle
from gateway_core.batches import repository as repo
from gateway_core.batches.models import Batch, BatchFile, BatchLine
from gateway_core.batches.storage import FileStorage, read_all
from gateway_core.batches.validation import parse_input
from gateway_core.config import BatchSettings
from gateway_core.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge

PURPOSES = ("batch",)
OUTPUT_PURPOSE = "batch_output"
MAX_PAGE = 100


def scope_of(identity: Identity) -> str:
    return f"team:{identity.team_id}" if identity.team_id else f"subject:{identity.subject}"


def file_object(row: BatchFile) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": row.created_at,
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
        "status_details": None,
    }


def request_counts(counts: dict[str, int]) -> dict[str, int]:
    total = sum(counts.values())
    completed = counts.get(lifecycle.OK, 0)
    failed = total - completed - counts.get("pending", 0)
    return {"total": total, "completed": completed, "failed": failed}


def batch_object(row: Batch, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "errors": row.errors,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id,
        "created_at": row.created_at,
        "in_progress_at": row.in_progress_at,
        "expires_at": row.expires_at,
        "finalizing_at": row.finalizing_at,
        "completed_at": row.completed_at,
        "failed_at": row.failed_at,
        "expired_at": row.expired_at,
        "cancelling_at": row.cancelling_at,
        "cancelled_at": row.cancelled_at,
        "request_counts": request_counts(counts)
        if counts
        else {"total": 0, "completed": 0, "failed": 0},
        "metadata": row.metadata,
    }


def _limit(value: str | None) -> int:
    if value is None:
        return 20
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidRequest(f"'limit' must be between 1 and {MAX_PAGE}.", param="limit")
    return int(value)


def _listing(data: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


def _json_limits(identity: Identity) -> dict[str, Any] | None:
    """The identity's limit overrides as JSON (budgets are decimals)."""
    limits = identity.metadata.get("limits")
    if not isinstance(limits, dict):
        return None
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in limits.items()}


def owner_identity(batch: Batch) -> Identity:
    """The batch owner's identity as the worker presents it to the router and limits."""
    limits = dict(batch.limits or {})
    if isinstance(limits.get("budget_usd"), str):
        limits["budget_usd"] = Decimal(limits["budget_usd"])
    return Identity(
        subject=batch.subject,
        method="batch",
        team_id=batch.team_id,
        allowed_models=frozenset(batch.allowed_models)
        if batch.allowed_models is not None
        else None,
        metadata={"limits": limits} if limits else {},
    )


class BatchService:
    def __init__(self, settings: BatchSettings, storage: FileStorage) -> None:
        self.settings = settings
        self.storage = storage

    # -- files ----------------------------------------------------------------------------

    async def upload(
        self, identity: Identity, purpose: str | None, filename: str, content: bytes
    ) -> dict[str, Any]:
        if purpose not in PURPOSES:
            raise InvalidRequest("'purpose' must be 'batch'.", param="purpose")
        if len(content) > self.settings.max_file_bytes:
            raise PayloadTooLarge(
                f"The file is larger than {self.settings.max_file_bytes} bytes.", param="file"
            )
        parse_input(content, identity)
        row = BatchFile(
            scope=scope_of(identity),
            purpose=purpose,
            filename=filename[:255] or "upload.jsonl",
            bytes=len(content),
            created_at=int(time.time()),
        )
        await self.storage.write(row.id, content)
        await row.save()
        return file_object(row)

    async def get_file(self, identity: Identity, file_id: str) -> BatchFile:
        row = await repo.find_file(file_id, scope_of(identity))
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param="id")
        return row

    async def list_files(
        self, identity: Identity, limit: str | None, after: str | None, purpose: str | None
    ) -> dict[str, Any]:
        query = BatchFile.filter(scope=scope_of(identity))
        if purpose:
            query = query.filter(purpose=purpose)
        cursor = await self.get_file(identity, after) if after else None
        rows, more = await repo.page(query, _limit(limit), cursor)
        return _listing([file_object(row) for row in rows], more)

    async def delete_file(self, identity: Identity, file_id: str) -> dict[str, Any]:
        row = await self.get_file(identity, file_id)
        await row.delete()
        await self.storage.delete(row.id)
        return {"id": row.id, "object": "file", "deleted": True}

    # -- batches --------------------------------------------------------------------------

    async def create_batch(self, identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = body.get("endpoint")
        if endpoint not in lifecycle.ENDPOINTS:
            raise InvalidRequest(
                f"'endpoint' must be one of {', '.join(lifecycle.ENDPOINTS)}.", param="endpoint"
            )
        window = body.get("completion_window")
        if window not in lifecycle.WINDOWS:
            raise InvalidRequest("'completion_window' must be '24h'.", param="completion_window")
        metadata = body.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
        ):
            raise InvalidRequest("'metadata' must map strings to strings.", param="metadata")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str):
            raise InvalidRequest("'input_file_id' is required.", param="input_file_id")
        source = await self.get_file(identity, file_id)
        if source.purpose != "batch":
            raise InvalidRequest("The input file's purpose must be 'batch'.", param="input_file_id")
        lines = parse_input(await read_all(self.storage, source.id), identity)
        now = int(time.time())
        batch = Batch(
            scope=scope_of(identity),
            subject=identity.subject,
            team_id=identity.team_id,
            allowed_models=sorted(identity.allowed_models)
            if identity.allowed_models is not None
            else None,
            limits=_json_limits(identity),
            endpoint=endpoint,
            input_file_id=source.id,
            completion_window=window,
            metadata=metadata,
            status=lifecycle.IN_PROGRESS,
            total=len(lines),
            created_at=now,
            in_progress_at=now,
            expires_at=lifecycle.expires_at(now, window),
        )
        wrong = next((n for n, line in enumerate(lines, 1) if line.url != endpoint), None)
        if wrong is not None:
            batch.status, batch.in_progress_at, batch.failed_at = lifecycle.FAILED, None, now
            batch.errors = {
                "object": "list",
                "data": [
                    {
                        "code": "invalid_url",
                        "message": f"The request's url must be the batch endpoint {endpoint}.",
                        "param": "url",
                        "line": wrong,
                    }
                ],
            }
            await batch.save()
            return batch_object(batch, {})
        async with in_transaction(batch._meta.default_connection):
            await batch.save()
            await BatchLine.bulk_create(
                [
                    BatchLine(
                        batch_id=batch.id,
                        line_no=number,
                        custom_id=line.custom_id,
                        body=line.body.decode(),
                    )
                    for number, line in enumerate(lines, 1)
                ],
                batch_size=500,
            )
        return batch_object(batch, {"pending": len(lines)})

    async def _find_batch(self, identity: Identity, batch_id: str) -> Batch:
        row = await repo.find_batch(batch_id, scope_of(identity))
        if row is None:
            raise NotFound(f"No such Batch object: {batch_id}", param="id")
        return row

    async def get_batch(self, identity: Identity, batch_id: str) -> dict[str, Any]:
        row = await self._find_batch(identity, batch_id)
        return batch_object(row, await repo.counts(row.id))

    async def list_batches(
        self, identity: Identity, limit: str | None, after: str | None
    ) -> dict[str, Any]:
        cursor = await self._find_batch(identity, after) if after else None
        rows, more = await repo.page(Batch.filter(scope=scope_of(identity)), _limit(limit), cursor)
        return _listing([batch_object(row, await repo.counts(row.id)) for row in rows], more)

    async def cancel_batch(self, identity: Identity, batch_id: str) -> dict[str, Any]:
        """Mark a running batch ``cancelling``; a worker then closes its lines and files."""
        row = await self._find_batch(identity, batch_id)
        if row.status in (lifecycle.CANCELLING, lifecycle.CANCELLED):
            return batch_object(row, await repo.counts(row.id))
        if row.status not in lifecycle.CANCELLABLE or not await repo.set_status(
            row.id, row.status, status=lifecycle.CANCELLING, cancelling_at=int(time.time())
        ):
            raise Conflict(f"Cannot cancel a batch with status '{row.status}'.")
        await row.refresh_from_db()
        return batch_object(row, await repo.counts(row.id))
