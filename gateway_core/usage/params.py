"""Reading the query string of a usage request: every parameter checked, 400 naming it.

``from`` and ``to`` are ISO 8601 instants with an offset, or plain dates read in ``tz``: a date
as ``from`` means the start of that local day, as ``to`` the end of it (so
``from=2025-03-01&to=2025-03-31`` is all of March). Without them a report covers the current
bucket and the ones before it (24 hours, 30 days or 12 months, up to the end of the current one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from gateway_core.errors import InvalidRequest
from gateway_core.usage.buckets import Calendar, Unit
from gateway_core.usage.queries import DIMENSIONS, Selection
from gateway_core.usage.service import BucketName, UsageQuery

BUCKETS: tuple[BucketName, ...] = ("hour", "day", "month", "none")
FORMATS = ("csv", "json")
#: Usage older than 1980 cannot exist, and later than 2200 is surely a typo; within these
#: bounds every UTC offset is a whole number of quarter hours (see :mod:`buckets`).
EARLIEST = 315_532_800  # 1980-01-01T00:00:00Z
LATEST = 7_258_118_400  # 2200-01-01T00:00:00Z
#: The longest range per bucket size: bounds the work and the size of one answer.
MAX_DAYS: dict[str, int] = {"hour": 400, "day": 3660, "month": 36600, "none": 36600}
DEFAULT_BUCKETS = {"hour": 24, "day": 30, "month": 12}
MAX_VALUES = 100
MAX_VALUE_LENGTH = 200

_COMMON = frozenset({"from", "to", "tz"})
REPORT_PARAMS = _COMMON | {"bucket", "group_by", *DIMENSIONS}
EXPORT_PARAMS = _COMMON | {"format", *DIMENSIONS}
OWN_PARAMS = _COMMON | {"bucket", "group_by"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class UsageArgs:
    low: int
    high: int
    tz: str
    bucket: BucketName = "day"
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    format: str = "csv"

    def query(self, scope: Mapping[str, str] | None = None) -> UsageQuery:
        return UsageQuery(
            self.low,
            self.high,
            self.tz,
            self.bucket,
            self.group_by,
            Selection.of(self.filters, scope),
        )


def parse(args: Mapping[str, Sequence[str]], accepted: frozenset[str], now: float) -> UsageArgs:
    """Check ``args`` (each name with all its values) against the ``accepted`` names."""
    for name in args:
        if name not in accepted:
            raise InvalidRequest(f"Unknown parameter '{name}'.", param=name)
    tz = _single(args, "tz") or "UTC"
    zone = _zone(tz)
    bucket = _choice(args, "bucket", BUCKETS, "day")
    fmt = _choice(args, "format", FORMATS, "csv")
    unit: Unit = "day" if bucket == "none" else bucket
    calendar = Calendar(zone, unit)
    raw_to, raw_from = _single(args, "to"), _single(args, "from")
    high = (
        _instant(raw_to, zone, "to", end=True)
        if raw_to
        else calendar.next_boundary(_bounded(math.floor(now), "to"))
    )
    low = _instant(raw_from, zone, "from", end=False) if raw_from else _default_low(calendar, high)
    if low >= high:
        raise InvalidRequest("'from' must be before 'to'.", param="from")
    if "bucket" in accepted and high - low > MAX_DAYS[bucket] * 86400:
        raise InvalidRequest(
            f"A report with bucket={bucket} may cover at most {MAX_DAYS[bucket]} days; "
            "shorten the range or use a larger bucket.",
            param="from",
        )
    return UsageArgs(
        low=low,
        high=high,
        tz=tz,
        bucket=bucket,
        group_by=_group_by(args),
        filters={dim: _values(args, dim) for dim in DIMENSIONS if dim in args},
        format=fmt,
    )


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> ZoneInfo:
    if name not in _zone_names():
        raise InvalidRequest(
            f"Unknown time zone '{name[:80]}': use an IANA name such as 'Europe/Berlin'.",
            param="tz",
        )
    return ZoneInfo(name)


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"'{name}' may be given only once.", param=name)
    return values[0].strip()


def _choice(
    args: Mapping[str, Sequence[str]], name: str, options: Sequence[str], default: str
) -> Any:
    value = _single(args, name) or default
    if value not in options:
        raise InvalidRequest(f"'{name}' must be one of: {', '.join(options)}.", param=name)
    return value


def _instant(text: str, zone: ZoneInfo, name: str, *, end: bool) -> int:
    """Epoch seconds of an ISO 8601 instant with an offset, or of a local day's start
    (``end``: the next day's start)."""
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidRequest(f"'{name}' is not a valid date.", param=name) from None
        calendar = Calendar(zone, "day")
        noon = _bounded(math.floor(datetime.combine(day, time(12), zone).timestamp()), name)
        start = calendar.start_of(noon)
        return calendar.next_boundary(start) if end else start
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise InvalidRequest(
                f"'{name}' needs a UTC offset (such as Z or +02:00), or must be a plain date.",
                param=name,
            )
        return _bounded(math.floor(moment.timestamp()), name)
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"'{name}' must be an ISO 8601 date or date-time, such as 2025-03-01 or "
            "2025-03-01T09:00:00+01:00.",
            param=name,
        ) from None


def _bounded(instant: int, name: str) -> int:
    if not EARLIEST <= instant <= LATEST:
        raise InvalidRequest(f"'{name}' must lie between 1980 and 2200.", param=name)
    return instant


def _default_low(calendar: Calendar, high: int) -> int:
    """The start of the bucket ``DEFAULT_BUCKETS`` buckets back from the one ending at
    ``high``."""
    low = high
    for _ in range(DEFAULT_BUCKETS[calendar.unit]):
        low = calendar.start_of(low - 1)
    return max(low, EARLIEST)


def _group_by(args: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    names: list[str] = []
    for value in args.get("group_by") or ():
        for name in (part.strip() for part in value.split(",")):
            if name not in DIMENSIONS:
                raise InvalidRequest(
                    f"'group_by' takes a comma-separated list of: {', '.join(DIMENSIONS)}.",
                    param="group_by",
                )
            if name not in names:
                names.append(name)
    return tuple(names)


def _values(args: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    values = [part.strip() for value in args[name] for part in value.split(",")]
    if not all(values) or any(len(value) > MAX_VALUE_LENGTH for value in values):
        raise InvalidRequest(
            f"'{name}' takes non-empty values of at most {MAX_VALUE_LENGTH} characters.",
            param=name,
        )
    if len(values) > MAX_VALUES:
        raise InvalidRequest(f"'{name}' takes at most {MAX_VALUES} values.", param=name)
    return tuple(dict.fromkeys(values))
