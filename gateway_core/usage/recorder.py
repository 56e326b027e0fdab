"""Handing usage events to the configured sinks without touching the request path.

``emit`` appends to one bounded in-memory queue per sink and returns; a drainer task per sink
writes batches in the background. A sink that fails, hangs or falls behind affects only its own
queue: its batches go to its spool on disk and are replayed when it recovers. Shutdown drains
every queue (or spools what a sink cannot take in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from gateway_core.api import UsageEvent, UsageSink
from gateway_core.usage.spool import Spool

log = logging.getLogger("gateway.usage")


class SinkWorker:
    """One sink's queue, drainer and spool."""

    def __init__(
        self,
        name: str,
        sink: UsageSink,
        spool: Spool,
        *,
        batch_size: int,
        flush_interval: float,
        queue_size: int,
        write_timeout: float,
        replay_interval: float,
    ) -> None:
        self.name = name
        self.sink = sink
        self.spool = spool
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.write_timeout = write_timeout
        self.replay_interval = replay_interval
        self.queue: deque[UsageEvent] = deque()
        self.written = 0
        self.spooled = 0
        self.failures = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._healthy = True

    def offer(self, event: UsageEvent) -> None:
        if len(self.queue) >= self.queue_size:
            # The sink is far behind: keep the event on disk rather than in memory.
            self._spool([event])
            return
        self.queue.append(event)
        if len(self.queue) >= self.batch_size:
            self._wakeup.set()

    def start(self) -> None:
        self.spool.recover_claims()
        self._task = asyncio.create_task(self._drain(), name=f"usage-sink-{self.name}")

    async def close(self, deadline: float) -> None:
        """Stop draining; write what is queued if the sink answers in time, else spool it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self.queue:
            batch = self._take()
            loop = asyncio.get_running_loop()
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self._write(batch, min(remaining, self.write_timeout)):
                self._spool(batch + self._take_all())
        with contextlib.suppress(Exception):
            await self.sink.close()

    def _take(self) -> list[UsageEvent]:
        count = min(self.batch_size, len(self.queue))
        return [self.queue.popleft() for _ in range(count)]

    def _take_all(self) -> list[UsageEvent]:
        batch = list(self.queue)
        self.queue.clear()
        return batch

    def _spool(self, batch: list[UsageEvent]) -> None:
        try:
            self.spool.append(batch)
            self.spooled += len(batch)
        except OSError:
            log.exception("usage sink %s: could not spool %d events", self.name, len(batch))

    async def _write(self, batch: list[UsageEvent], seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.sink.write(batch), seconds)
        except Exception as exc:  # a sink may fail in any way; it must not stop the others
            self.failures += 1
            if self._healthy:
                log.warning(
                    "usage sink %s failed (%s); spooling its events", self.name, type(exc).__name__
                )
            self._healthy = False
            return False
        if not self._healthy:
            log.info("usage sink %s recovered", self.name)
        self._healthy = True
        self.written += len(batch)
        return True

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        next_replay = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
            self._wakeup.clear()
            while self.queue:
                batch = self._take()
                try:
                    written = await self._write(batch, self.write_timeout)
                except BaseException:  # cancelled mid-write: the batch is still ours to keep
                    self.queue.extendleft(reversed(batch))
                    raise
                if not written:
                    self._spool(batch)
                    break
            if loop.time() >= next_replay:
                await self._replay()
                next_replay = loop.time() + self.replay_interval

    async def _replay(self) -> None:
        """Feed spooled batches back to the sink, oldest first, while it accepts them."""
        for path in self.spool.pending():
            claimed = self.spool.claim(path)
            if claimed is None:
                continue
            try:
                events = self.spool.read(claimed)
            except (OSError, ValueError):
                log.exception("usage sink %s: unreadable spool file %s", self.name, claimed)
                continue
            try:
                for start in range(0, len(events), self.batch_size):
                    batch = events[start : start + self.batch_size]
                    if not await self._write(batch, self.write_timeout):
                        self.spool.release(claimed)
                        return
            except BaseException:  # cancelled at shutdown: the file goes back to the queue
                self.spool.release(claimed)
                raise
            claimed.unlink()
            log.info("usage sink %s: replayed %d spooled events", self.name, len(events))


class UsageRecorder:
    """Fans usage events out to sinks. With no sink configured it is inactive, and the request
    path then skips the work of measuring usage altogether."""

    def __init__(self, workers: list[SinkWorker] | None = None) -> None:
        self.workers = workers or []
        self.active = bool(self.workers)

    def emit(self, event: UsageEvent) -> None:
        """Queue ``event`` for every sink; never blocks and never raises into a request."""
        for worker in self.workers:
            try:
                worker.offer(event)
            except Exception:
                log.exception("usage sink %s refused an event", worker.name)

    async def alert(self, alert: dict[str, Any]) -> None:
        """Send an operational alert (a soft budget crossed, …) to every sink that takes them."""
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.sink.write_alert(alert), worker.write_timeout)
            except Exception:
                log.exception("usage sink %s failed to deliver an alert", worker.name)

    async def start(self) -> None:
        for worker in self.workers:
            await worker.sink.start()
            worker.start()

    async def close(self, grace: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + grace
        await asyncio.gather(*(worker.close(deadline) for worker in self.workers))

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            worker.name: {
                "queued": len(worker.queue),
                "written": worker.written,
                "spooled": worker.spooled,
                "failures": worker.failures,
                "spool_files": len(worker.spool.pending()),
            }
            for worker in self.workers
        }
