"""The batch worker: claims lines under a lease, runs each through the live request path,
records each result atomically, and finalises batches into output and error files.

Several workers may run (``gateway batch-worker`` processes and one inside ``gateway serve``):
the database leases decide who does what. A worker killed mid-line leaves its lease to run out;
the line is then claimed again, and only one result can ever be recorded for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import TYPE_CHECKING

import orjson

from gateway_core import db, pipeline
from gateway_core.batches import lifecycle
from gateway_core.batches import repository as repo
from gateway_core.batches.models import Batch, BatchFile, BatchLine
from gateway_core.batches.service import OUTPUT_PURPOSE, owner_identity
from gateway_core.batches.storage import FileStorage
from gateway_core.errors import GatewayError, QuotaExceeded, RateLimited

if TYPE_CHECKING:
    from gateway_core.gateway import Gateway

log = logging.getLogger("gateway.batches")


class BatchWorker:
    def __init__(self, gateway: Gateway, storage: FileStorage) -> None:
        self.gateway = gateway
        self.storage = storage
        self.settings = gateway.settings.batches
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._stopping = asyncio.Event()
        self._batches: dict[str, Batch] = {}

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Work until :meth:`stop`; errors are logged and the loop goes on."""
        log.info("batch worker %s started", self.owner)
        while not self._stopping.is_set():
            try:
                busy = await self.tick()
            except Exception:
                log.exception("batch worker tick failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.poll_interval)

    async def tick(self) -> bool:
        """One round: close or finalise what is due, then run one claim of lines."""
        if not await self.tick_batches():
            return False  # idle: one read, no write that could contend with live requests
        return await self.tick_lines()

    async def tick_batches(self) -> bool:
        """Cancel, expire and finalise the batches that are due; whether any are running."""
        running = await repo.running_batches()
        for batch in running:
            await self._advance(batch)
        return any(batch.status == lifecycle.IN_PROGRESS for batch in running)

    async def tick_lines(self) -> bool:
        """Claim up to ``worker_concurrency`` lines and run them; ``False`` when idle."""
        database = self.gateway.settings.database
        lines = await repo.claim_lines(
            db.connection(database),
            db.dialect_of(database.effective_url()),
            self.owner,
            time.time(),
            self.settings.lease_duration,
            self.settings.worker_concurrency,
        )
        if not lines:
            return False
        await asyncio.gather(*(self._run_line(line) for line in lines))
        return True

    # -- lines ----------------------------------------------------------------------------

    async def _batch(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            batch = self._batches[batch_id] = await Batch.get(id=batch_id)
        return batch

    async def _run_line(self, line: BatchLine) -> None:
        batch = await self._batch(line.batch_id)
        request_id = f"{batch.id}-{line.line_no}"
        line_id = f"batch_req_{batch.id.removeprefix('batch_')}_{line.line_no}"
        operation = lifecycle.ENDPOINTS[batch.endpoint]
        try:
            exchange = await pipeline.begin(
                self.gateway, owner_identity(batch), line.body.encode(), operation, request_id, {}
            )
            served = await pipeline.complete(exchange)
        except GatewayError as error:
            if isinstance(error, RateLimited) and not isinstance(error, QuotaExceeded):
                # Live traffic has the capacity now: try this line again later.
                wait = error.retry_after or 1.0
                await repo.postpone(line, self.owner, time.time() + wait)
                return
            result = lifecycle.error_response_line(line_id, line.custom_id, request_id, error)
            await self._record(line, lifecycle.ERROR, result)
            return
        except Exception:
            log.exception("batch line %s failed", request_id)
            await repo.postpone(line, self.owner, time.time() + 5.0)
            return
        body = orjson.loads(served.result.body)
        result = lifecycle.response_line(line_id, line.custom_id, request_id, 200, body)
        await self._record(line, lifecycle.OK, result)
        await asyncio.sleep(0)  # yield to live requests between lines

    async def _record(self, line: BatchLine, outcome: str, result: dict) -> None:
        if not await repo.record_result(line, self.owner, outcome, orjson.dumps(result).decode()):
            log.warning("lease of batch line %s/%s was lost", line.batch_id, line.line_no)

    # -- batches --------------------------------------------------------------------------

    async def _advance(self, batch: Batch) -> None:
        now = time.time()
        if batch.status == lifecycle.CANCELLING:
            await self._close_pending(batch, lifecycle.LINE_CANCELLED)
        elif batch.status == lifecycle.IN_PROGRESS and lifecycle.is_expired(now, batch.expires_at):
            await self._close_pending(batch, lifecycle.LINE_EXPIRED)
        elif batch.status == lifecycle.IN_PROGRESS:
            if await repo.has_pending(batch.id):
                return
        elif (batch.lease_until or 0) >= now:
            return  # another worker is finalising it
        await self.finalize(batch)

    async def _close_pending(self, batch: Batch, outcome: str) -> None:
        prefix = batch.id.removeprefix("batch_")
        for line in await repo.pending_lines(batch.id):
            result = lifecycle.unexecuted_line(
                f"batch_req_{prefix}_{line.line_no}", line.custom_id, outcome
            )
            await repo.close_line(line.id, outcome, orjson.dumps(result).decode())

    async def finalize(self, batch: Batch) -> None:
        """Write the output and error files from the finished lines, then end the batch.

        File ids follow from the batch id, so a finalisation redone after a crash rewrites the
        same files instead of adding new ones.
        """
        now = time.time()
        expired = batch.status != lifecycle.CANCELLING and lifecycle.is_expired(
            now, batch.expires_at
        )
        final = lifecycle.final_status(
            lifecycle.CANCELLING if batch.cancelling_at else batch.status, expired
        )
        changes = (
            {}
            if batch.status == lifecycle.FINALIZING
            else {"status": lifecycle.FINALIZING, "finalizing_at": int(now)}
        )
        if not await repo.take_for_finalizing(
            batch, self.owner, now, self.settings.lease_duration, **changes
        ):
            return
        if await repo.has_pending(batch.id):
            await self._close_pending(
                batch,
                lifecycle.LINE_CANCELLED
                if final == lifecycle.CANCELLED
                else lifecycle.LINE_EXPIRED,
            )
        output, errors = [], []
        for _, outcome, result in await repo.done_lines(batch.id):
            (output if lifecycle.is_output(outcome) else errors).append(result)
        suffix = batch.id.removeprefix("batch_")
        output_id = await self._write_file(batch, f"file-out-{suffix}", "output", output)
        error_id = await self._write_file(batch, f"file-err-{suffix}", "errors", errors)
        field = lifecycle.timestamp_field(final)
        await repo.set_status(
            batch.id,
            lifecycle.FINALIZING,
            status=final,
            output_file_id=output_id,
            error_file_id=error_id,
            lease_owner=None,
            lease_until=None,
            **({field: int(time.time())} if field else {}),
        )
        self._batches.pop(batch.id, None)
        log.info("batch %s %s (%d ok, %d errors)", batch.id, final, len(output), len(errors))

    async def _write_file(
        self, batch: Batch, file_id: str, kind: str, lines: list[str]
    ) -> str | None:
        if not lines:
            return None
        content = "".join(f"{line}\n" for line in lines).encode()
        await self.storage.write(file_id, content)
        await BatchFile.update_or_create(
            id=file_id,
            defaults={
                "scope": batch.scope,
                "purpose": OUTPUT_PURPOSE,
                "filename": f"{batch.id}_{kind}.jsonl",
                "bytes": len(content),
                "created_at": int(time.time()),
            },
        )
        return file_id
