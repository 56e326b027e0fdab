"""Sending the script calls of one event-loop turn to Redis together.

Under load many requests of a worker reach admission in the same turn of the event loop. Each
still runs its own script (its own atomic check), but their calls leave in one pipeline: one
write and one read for all of them instead of a connection checkout, a send and a wake-up each.
A lone call is sent as it is. This changes cost, not meaning: Redis runs the scripts one after
another exactly as if they had come separately.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._queue: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((script, keys, args, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        waiting = [call for call in batch if not call[3].done()]  # timed-out callers are gone
        if not waiting:
            return
        try:
            if len(waiting) == 1:
                script, keys, args, _ = waiting[0]
                results: list[Any] = [await script(keys=keys, args=args)]
            else:
                results = await self._pipeline(waiting)
        except Exception as exc:
            for *_, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(waiting, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        results = await self._execute(calls)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:  # Redis restarted and forgot the scripts: load them, send those again
            for script in {id(calls[i][0]): calls[i][0] for i in missing}.values():
                script.sha = await self.client.script_load(script.script)
            retried = await self._execute([calls[i] for i in missing])
            for index, result in zip(missing, retried, strict=True):
                results[index] = result
        return results

    async def _execute(self, calls: list[_Call]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args, _ in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
