"""Local hours, days and months of any IANA time zone, as exact intervals of UTC seconds.

A bucket is a maximal run of instants that share one local label: the date for days, the year
and month for months, and the wall hour *with its UTC offset* for hours (so the hour repeated
when clocks fall back is two buckets). Labels come from :mod:`zoneinfo`, so a day on which
clocks change lasts 23 or 25 hours (23.5 on Lord Howe Island), and zones at +05:30 or +05:45
start their hours on the half or three-quarter UTC hour.

The database pre-aggregates rows into 15-minute UTC slots (``SLOT_SECONDS``). Every UTC offset
in use since 1980 is a multiple of 15 minutes, and so are nearly all clock changes; a slot
therefore lies inside one bucket, except around the rare change made off the quarter hour
(Newfoundland until 2011 changed at 00:01). :func:`misaligned` lists those boundaries so that
queries can be split there and every row still lands in its exact bucket.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

SLOT_SECONDS = 900
Unit = Literal["hour", "day", "month"]
Label = tuple[int, ...]

_EPOCH = datetime(1970, 1, 1)  # naive: wall times are compared as naive datetimes
_MAX_STEPS = 64


@dataclass(frozen=True, slots=True)
class Bucket:
    """``[start, end)`` in UTC epoch seconds, and the local label shared by all its instants."""

    start: int
    end: int
    label: Label

    @property
    def day(self) -> date:
        """The local date of a day bucket."""
        return date(*self.label[:3])


class Calendar:
    """Buckets of one unit in one zone."""

    def __init__(self, zone: ZoneInfo, unit: Unit) -> None:
        self.zone = zone
        self.unit = unit

    def local(self, instant: int) -> datetime:
        return datetime.fromtimestamp(instant, self.zone)

    def label(self, instant: int) -> Label:
        return self._label(self.local(instant))

    def _label(self, local: datetime) -> Label:
        if self.unit == "month":
            return (local.year, local.month)
        if self.unit == "day":
            return (local.year, local.month, local.day)
        offset = local.utcoffset()
        assert offset is not None
        return (local.year, local.month, local.day, local.hour, int(offset.total_seconds()))

    def _offset(self, instant: int) -> int:
        offset = self.local(instant).utcoffset()
        assert offset is not None
        return int(offset.total_seconds())

    def _floor(self, local: datetime) -> datetime:
        """The naive wall time at which ``local``'s label begins."""
        wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
        if self.unit == "hour":
            return wall
        wall = wall.replace(hour=0)
        return wall.replace(day=1) if self.unit == "month" else wall

    def _next_wall(self, local: datetime) -> datetime:
        floor = self._floor(local)
        if self.unit == "hour":
            return floor + timedelta(hours=1)
        if self.unit == "day":
            return floor + timedelta(days=1)
        return floor.replace(year=floor.year + floor.month // 12, month=floor.month % 12 + 1)

    def next_boundary(self, instant: int) -> int:
        """The first instant after ``instant`` whose label differs from its label.

        Without a clock change the boundary is where the wall clock reaches the next label; a
        change on the way is found by bisection and either is the boundary (clocks jumped to
        another label) or moves the search on (clocks changed within the same day).
        """
        here = self.label(instant)
        probe = instant
        for _ in range(_MAX_STEPS):
            local = self.local(probe)
            offset = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
            candidate = int((self._next_wall(local) - _EPOCH).total_seconds()) - offset
            if self._offset(candidate - 1) == offset:
                if self.label(candidate) != here:
                    return candidate
                probe = candidate  # the clock went back over the boundary: same label goes on
                continue
            change = self._first_offset_change(probe, candidate - 1, offset)
            if self.label(change) != here:
                return change
            probe = change
        raise RuntimeError(f"no bucket boundary found after {instant} in {self.zone}")

    def _first_offset_change(self, low: int, high: int, offset: int) -> int:
        """The first instant in ``(low, high]`` whose UTC offset is not ``offset``."""
        while high - low > 1:
            middle = (low + high) // 2
            if self._offset(middle) == offset:
                low = middle
            else:
                high = middle
        return high

    def start_of(self, instant: int) -> int:
        """The first instant of the bucket holding ``instant``."""
        here = self.label(instant)
        local = self.local(instant)
        offset = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
        probe = int((self._floor(local) - _EPOCH).total_seconds()) - offset - 6 * 3600
        while self.label(probe) == here:
            probe -= 86400
        boundary = self.next_boundary(probe)
        while (following := self.next_boundary(boundary)) <= instant:
            boundary = following
        return boundary

    def span(self, low: int, high: int) -> list[Bucket]:
        """The buckets that cover ``[low, high)``, whole (the first may start before ``low``,
        the last may end after ``high``)."""
        buckets: list[Bucket] = []
        start = self.start_of(low)
        while start < high:
            end = self.next_boundary(start)
            buckets.append(Bucket(start, end, self.label(start)))
            start = end
        return buckets


def clip(buckets: Sequence[Bucket], low: int, high: int) -> list[Bucket]:
    """The same buckets cut to ``[low, high)``."""
    return [Bucket(max(b.start, low), min(b.end, high), b.label) for b in buckets]


def misaligned(buckets: Sequence[Bucket], low: int, high: int) -> list[int]:
    """Boundaries strictly inside ``(low, high)`` that do not fall on a slot boundary."""
    edges = {b.start for b in buckets} | {b.end for b in buckets}
    return sorted(e for e in edges if low < e < high and e % SLOT_SECONDS)


def locate(starts: Sequence[int], instant: int) -> int:
    """Index of the bucket (given by its sorted ``starts``) that holds ``instant``."""
    return bisect_right(starts, instant) - 1


def iso(instant: int, zone: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset at that instant, to the second."""
    return datetime.fromtimestamp(instant, zone).isoformat()
