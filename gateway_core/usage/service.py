"""Usage reports: totals and time series per key, team, model, provider or end user.

A report reads each part of its range from the cheapest exact source: whole local days that
are finished come from daily rollups (stored once per time zone, see :mod:`rollups`); the rest
(today, partial days at the edges, every hour bucket) is aggregated from raw records by
15-minute UTC slot and folded into local buckets here (see :mod:`buckets`). Figures that
include an unfinished day are cached in-process for ``LIVE_TTL`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tortoise import BaseDBAsyncClient

from gateway_core.usage import queries
from gateway_core.usage.buckets import Bucket, Calendar, clip, iso
from gateway_core.usage.cache import TTLCache
from gateway_core.usage.fold import Tally, slot_instant, slot_pieces
from gateway_core.usage.queries import DIMENSIONS, Selection
from gateway_core.usage.rollups import FINISHED_AFTER, Rollups

BucketName = Literal["hour", "day", "month", "none"]

LIVE_TTL = 30.0
#: Bounds on the live cache's memory: entries, and rows per entry (larger results are not kept).
_LIVE_ENTRIES = 64
_LIVE_MAX_ROWS = 5_000
EXPORT_PAGE = 500


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """``[low, high)`` in UTC epoch seconds, bucketed in the IANA zone ``tz``."""

    low: int
    high: int
    tz: str = "UTC"
    bucket: BucketName = "day"
    group_by: tuple[str, ...] = ()
    selection: Selection = field(default_factory=Selection)


class UsageService:
    """One per worker: it holds the cache of live figures and serialises rollup building.

    ``connection`` returns the open database connection when called (it may be reopened).
    """

    def __init__(
        self,
        connection: Callable[[], BaseDBAsyncClient],
        clock: Callable[[], float] = time.time,
        live_ttl: float = LIVE_TTL,
    ) -> None:
        self.connection = connection
        self.clock = clock
        self.rollups = Rollups()
        self.live = TTLCache(live_ttl, _LIVE_ENTRIES, clock)

    async def report(self, query: UsageQuery) -> dict[str, Any]:
        zone = ZoneInfo(query.tz)
        connection = self.connection()
        columns = [DIMENSIONS[name] for name in query.group_by]
        tally = Tally(self._buckets(query, zone), columns)
        raw_parts = [(query.low, query.high)]
        if query.bucket != "hour":
            days = await self._finished_days(connection, query, zone)
            if days:
                await self.rollups.ensure(connection, query.tz, days)
                starts = {day.day: day.start for day in days}
                rows = await queries.rollup_totals(
                    connection, query.tz, days[0].day, days[-1].day, query.selection, columns
                )
                for row in rows:
                    tally.add(starts[row["day"]], row)
                raw_parts = [(query.low, days[0].start), (days[-1].end, query.high)]
        for low, high in raw_parts:
            if low < high:
                for instant, row in await self._raw(connection, query, tally, low, high):
                    tally.add(instant, row)
        return {
            "object": "usage.report",
            "from": iso(query.low, zone),
            "to": iso(query.high, zone),
            "tz": query.tz,
            "bucket": query.bucket,
            "group_by": list(query.group_by),
            "filters": {name: list(values) for name, values in query.selection.any_of},
            "scope": dict(query.selection.scope),
            "totals": tally.total().as_dict(),
            "buckets": tally.as_buckets(zone, query.group_by),
        }

    async def record_pages(self, query: UsageQuery) -> AsyncIterator[list[dict[str, Any]]]:
        """The raw records of the query's range and selection in time order, page by page."""
        connection = self.connection()
        after: tuple[int, int] | None = None
        while True:
            page = await queries.record_page(
                connection, query.low, query.high, query.selection, after, EXPORT_PAGE
            )
            if page:
                yield page
            if len(page) < EXPORT_PAGE:
                return
            after = (int(page[-1]["ts_epoch"]), int(page[-1]["id"]))

    def _buckets(self, query: UsageQuery, zone: ZoneInfo) -> list[Bucket]:
        if query.bucket == "none":
            return [Bucket(query.low, query.high, ())]
        calendar = Calendar(zone, query.bucket)
        return clip(calendar.span(query.low, query.high), query.low, query.high)

    async def _finished_days(
        self, connection: BaseDBAsyncClient, query: UsageQuery, zone: ZoneInfo
    ) -> list[Bucket]:
        """Whole local days of the range that ended ``FINISHED_AFTER`` ago or more, from the
        day of the oldest record on (earlier days hold nothing; no rollup is stored for them)."""
        first = await queries.earliest_record(connection)
        if first is None or max(first, query.low) >= query.high:
            return []
        now = self.clock()
        days = [
            day
            for day in Calendar(zone, "day").span(max(first, query.low), query.high)
            if day.start >= query.low and day.end <= query.high and day.end + FINISHED_AFTER <= now
        ]
        if len({day.day for day in days}) != len(days):
            return []  # the zone repeated a date (clocks set back over midnight): stay raw
        return days

    async def _raw(
        self, connection: BaseDBAsyncClient, query: UsageQuery, tally: Tally, low: int, high: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Aggregates of raw records in ``[low, high)``, each with the instant that places it:
        by slot, split where a bucket boundary falls inside a slot; or as one whole."""
        slotted = query.bucket != "none"
        pieces = slot_pieces(tally.buckets, low, high) if slotted else [(low, high)]
        live = high + FINISHED_AFTER > self.clock()
        key: Hashable = (tuple(pieces), query.selection, tally.columns, slotted)
        cached = self.live.get(key) if live else None
        if cached is not None:
            return cached
        placed = []
        for start, end in pieces:
            rows = await queries.record_totals(
                connection, start, end, query.selection, tally.columns, slotted=slotted
            )
            placed += [
                (slot_instant(int(row["slot"]), start) if slotted else start, row) for row in rows
            ]
        if live and len(placed) <= _LIVE_MAX_ROWS:
            self.live.put(key, placed)
        return placed
