"""Calendar periods (day, ISO week, month, total) in a time zone, cached until they end.

A budget "per month" for a team in Tokyo restarts at midnight Tokyo time on the first; the
period's id becomes part of its counter's name, so a new period simply starts a new counter and
the old one expires. Every instance computes the same id from its own wall clock: instances
whose clocks disagree by a second may disagree about the period for that second around
midnight, and no more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from gateway_core.limits.charges import Period

KINDS = ("day", "week", "month", "total")
TOTAL = Period("total", "total", None, None, "UTC")


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def period_at(kind: str, timezone: str, now: float) -> Period:
    """The period of ``kind`` containing the instant ``now`` (epoch seconds) in ``timezone``."""
    if kind == "total":
        return TOTAL
    zone = _zone(timezone)
    local = datetime.fromtimestamp(now, zone).replace(tzinfo=None)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        start, end = midnight, midnight + timedelta(days=1)
        ident = f"d{start:%Y-%m-%d}"
    elif kind == "week":
        start = midnight - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
        year, week, _ = start.isocalendar()
        ident = f"w{year}-W{week:02d}"
    elif kind == "month":
        start = midnight.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        ident = f"m{start:%Y-%m}"
    else:
        raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(KINDS)}")
    # Calendar arithmetic on local wall time, so DST days last 23 or 25 hours.
    return Period(kind, ident, _epoch(start, zone), _epoch(end, zone), timezone)


def _epoch(local: datetime, zone: ZoneInfo) -> float:
    return local.replace(tzinfo=zone).timestamp()


class PeriodClock:
    """Periods by (kind, zone), recomputed only when ``now`` leaves the cached one."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Period] = {}

    def period(self, kind: str, timezone: str, now: float) -> Period:
        key = (kind, timezone)
        cached = self._cache.get(key)
        if cached is not None and (
            cached.ends_at is None or cached.starts_at <= now < cached.ends_at  # type: ignore[operator]
        ):
            return cached
        period = period_at(kind, timezone, now)
        self._cache[key] = period
        return period
