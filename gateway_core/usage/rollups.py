"""Daily rollups: each finished local day's totals, computed once from raw records and kept.

A local day counts as finished ``FINISHED_AFTER`` seconds after it ended: the recorder delivers
records within seconds, so by then the day is complete. The day's rollup rows and its marker
(``UsageRollupDay``) are written in one transaction; the marker's unique ``(tz, day)`` stops two
processes from storing a day twice (the second transaction fails, rolls back, and re-reads).
A stored day is never recomputed, so records that arrive for it later (a spool replayed after a
long outage) are not in its figures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date

from tortoise import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from gateway_core.usage import queries
from gateway_core.usage.buckets import Bucket
from gateway_core.usage.models import UsageDailyRollup, UsageRollupDay

log = logging.getLogger("gateway.usage")

FINISHED_AFTER = 3600
#: Days stored per transaction: bounds the transaction while a first report over a long range
#: catches up.
CHUNK_DAYS = 31
_ATTEMPTS = 5


class Rollups:
    """Stores missing rollups; one builder per time zone at a time in this process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, connection: BaseDBAsyncClient, tz: str, days: Sequence[Bucket]) -> None:
        """Make sure every one of ``days`` (finished day buckets of ``tz``) has its rollup."""
        if not days:
            return
        async with self._locks.setdefault(tz, asyncio.Lock()):
            stored = await stored_days(connection, tz, days)
            missing = [day for day in days if day.day not in stored]
            for index in range(0, len(missing), CHUNK_DAYS):
                await self._store_chunk(connection, tz, missing[index : index + CHUNK_DAYS])

    async def _store_chunk(
        self, connection: BaseDBAsyncClient, tz: str, days: Sequence[Bucket]
    ) -> None:
        for _ in range(_ATTEMPTS):
            try:
                await store(connection, tz, days)
                return
            except IntegrityError:
                # Another process stored some of these days first: keep theirs, store the rest.
                log.debug("rollups of %s in %s were stored concurrently; re-reading", days, tz)
            stored = await stored_days(connection, tz, days)
            days = [day for day in days if day.day not in stored]
            if not days:
                return
        raise RuntimeError(f"could not store the rollups of {len(days)} days in {tz}")


async def stored_days(connection: BaseDBAsyncClient, tz: str, days: Sequence[Bucket]) -> set[date]:
    """Which of ``days`` already have their rollup (a marker)."""
    found = (
        await UsageRollupDay.filter(tz=tz, day__gte=days[0].day, day__lte=days[-1].day)
        .using_db(connection)
        .values_list("day", flat=True)
    )
    return set(found)


async def store(connection: BaseDBAsyncClient, tz: str, days: Sequence[Bucket]) -> None:
    """Compute ``days`` from raw records and write them with their markers, atomically."""
    rows = []
    for day in days:
        totals = await queries.record_totals(
            connection,
            day.start,
            day.end,
            queries.Selection(),
            queries.ROLLUP_COLUMNS,
            slotted=False,
        )
        rows += [
            UsageDailyRollup(
                tz=tz,
                day=day.day,
                **{column: row[column] for column in queries.ROLLUP_COLUMNS},
                requests=int(row["requests"]),
                errors=int(row["errors"]),
                prompt_tokens=int(row["prompt_tokens"]),
                completion_tokens=int(row["completion_tokens"]),
                cost_nanos=None if row["cost_nanos"] is None else int(row["cost_nanos"]),
                unpriced=int(row["unpriced_requests"]),
            )
            for row in totals
        ]
    async with in_transaction(connection.connection_name) as transaction:
        markers = [UsageRollupDay(tz=tz, day=day.day) for day in days]
        await UsageRollupDay.bulk_create(markers, using_db=transaction)
        if rows:
            await UsageDailyRollup.bulk_create(rows, batch_size=500, using_db=transaction)
