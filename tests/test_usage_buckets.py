"""Time buckets in any zone: a partition of time whose boundaries are local hours, midnights
and month starts, with DST days of 23 or 25 hours; and the slot folding that relies on them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway_core.usage.buckets import SLOT_SECONDS, Calendar, clip, locate, misaligned
from gateway_core.usage.fold import Tally, slot_instant, slot_pieces

ZONES = sorted(available_timezones())
#: Zones with odd offsets or odd clock changes: +05:45, +05:30, +12:45, a 30-minute DST
#: (Lord Howe), a 2-hour DST (Troll), changes at 00:01 (Newfoundland until 2011, Casey), a
#: change at midnight (Beirut), a skipped day (Apia, 2011).
AWKWARD = [
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Antarctica/Troll",
    "America/St_Johns",
    "Antarctica/Casey",
    "Asia/Beirut",
    "Pacific/Apia",
    "America/New_York",
    "Europe/Berlin",
]
zones = st.one_of(st.sampled_from(AWKWARD), st.sampled_from(ZONES))
#: 1980 to 2100: within the range the API accepts.
instants = st.integers(min_value=315_532_800, max_value=4_102_444_800)
SPAN = {"hour": 4 * 86400, "day": 80 * 86400, "month": 3 * 366 * 86400}


def local(instant: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(instant, zone)


def offset(instant: int, zone: ZoneInfo) -> timedelta:
    return local(instant, zone).utcoffset()  # type: ignore[return-value]


@settings(max_examples=300, deadline=None)
@given(
    zone=zones,
    unit=st.sampled_from(["hour", "day", "month"]),
    low=instants,
    fraction=st.floats(min_value=0.001, max_value=1),
    probes=st.lists(st.floats(min_value=0, max_value=0.999999), min_size=1, max_size=20),
)
def test_every_instant_lands_in_exactly_one_bucket(zone, unit, low, fraction, probes) -> None:
    zone = ZoneInfo(zone)
    calendar = Calendar(zone, unit)
    high = low + max(1, int(SPAN[unit] * fraction))
    buckets = calendar.span(low, high)
    assert buckets[0].start <= low < buckets[0].end
    assert buckets[-1].start < high <= buckets[-1].end
    for before, after in itertools.pairwise(buckets):
        assert before.end == after.start, "buckets are contiguous"
    for bucket in buckets:
        assert bucket.start < bucket.end
        # A boundary is where the local label changes, and nowhere inside a bucket.
        assert calendar.label(bucket.start - 1) != bucket.label
        assert calendar.label(bucket.start) == bucket.label == calendar.label(bucket.end - 1)
    starts = [bucket.start for bucket in buckets]
    for probe in probes:
        instant = low + int((high - low) * probe)
        holding = [b for b in buckets if b.start <= instant < b.end]
        assert len(holding) == 1
        assert holding[0] is buckets[locate(starts, instant)]
        assert holding[0].label == calendar.label(instant)


@settings(max_examples=300, deadline=None)
@given(zone=zones, low=instants, days=st.integers(min_value=1, max_value=60))
def test_day_buckets_run_from_local_midnight_to_local_midnight(zone, low, days) -> None:
    zone = ZoneInfo(zone)
    for bucket in Calendar(zone, "day").span(low, low + days * 86400):
        start, end = local(bucket.start, zone), local(bucket.end, zone)
        assert start.date() == bucket.day
        clock_changed = offset(bucket.start - 1, zone) != offset(bucket.start, zone)
        assert (start.hour, start.minute, start.second) == (0, 0, 0) or clock_changed
        if (start.hour, start.minute) == (0, 0) and (end.hour, end.minute) == (0, 0):
            # 24 hours per date, plus whatever the clocks were set back by during the day.
            dates = (end.date() - start.date()).days
            change = offset(bucket.start, zone) - offset(bucket.end, zone)
            assert bucket.end - bucket.start == dates * 86400 + change.total_seconds()


@settings(max_examples=300, deadline=None)
@given(zone=zones, low=instants, hours=st.integers(min_value=1, max_value=72))
def test_hour_buckets_start_on_the_local_hour(zone, low, hours) -> None:
    zone = ZoneInfo(zone)
    for bucket in Calendar(zone, "hour").span(low, low + hours * 3600):
        start = local(bucket.start, zone)
        clock_changed = offset(bucket.start - 1, zone) != offset(bucket.start, zone)
        assert (start.minute, start.second) == (0, 0) or clock_changed
        assert bucket.end - bucket.start <= 3600


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney"]),
    year=st.integers(min_value=1990, max_value=2090),
)
def test_a_year_with_dst_has_one_23_hour_day_and_one_25_hour_day(zone, year) -> None:
    tz = ZoneInfo(zone)
    start = int(datetime(year, 1, 1, tzinfo=tz).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp())
    days = Calendar(tz, "day").span(start, end)
    lengths = sorted(day.end - day.start for day in days)
    assert len(days) in (365, 366)
    assert lengths[0] == 23 * 3600 and lengths[-1] == 25 * 3600
    assert lengths[1:-1] == [24 * 3600] * (len(days) - 2)
    assert sum(lengths) == end - start


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2024, 3, 10), 23),
        ("America/New_York", date(2024, 11, 3), 25),
        ("Europe/London", date(2024, 3, 31), 23),
        ("Australia/Lord_Howe", date(2024, 10, 6), 23.5),
        ("Australia/Lord_Howe", date(2024, 4, 7), 24.5),
        ("Antarctica/Troll", date(2024, 3, 31), 22),
        ("Asia/Beirut", date(2020, 10, 24), 25),  # clocks went back at midnight
        ("America/St_Johns", date(1990, 4, 1), 23),  # changed at 00:01
        ("Asia/Kathmandu", date(2024, 3, 31), 24),
    ],
)
def test_known_days(zone: str, day: date, hours: float) -> None:
    tz = ZoneInfo(zone)
    noon = int(datetime(day.year, day.month, day.day, 12, tzinfo=tz).timestamp())
    calendar = Calendar(tz, "day")
    start = calendar.start_of(noon)
    assert local(start, tz).date() == day
    assert calendar.next_boundary(start) - start == hours * 3600


def test_a_skipped_day_has_no_bucket() -> None:
    apia = ZoneInfo("Pacific/Apia")
    start = int(datetime(2011, 12, 28, tzinfo=apia).timestamp())
    days = [bucket.day for bucket in Calendar(apia, "day").span(start, start + 3 * 86400)]
    assert days[:3] == [date(2011, 12, 28), date(2011, 12, 29), date(2011, 12, 31)]


@pytest.mark.parametrize(("zone", "minute"), [("Asia/Kolkata", 30), ("Asia/Kathmandu", 15)])
def test_quarter_hour_zones_start_hours_off_the_utc_hour(zone: str, minute: int) -> None:
    low = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    for bucket in Calendar(ZoneInfo(zone), "hour").span(low, low + 86400):
        assert datetime.fromtimestamp(bucket.start, UTC).minute == minute or bucket.start == low
        assert bucket.start % SLOT_SECONDS == 0


def test_the_repeated_hour_is_two_buckets() -> None:
    new_york = ZoneInfo("America/New_York")
    low = int(datetime(2024, 11, 3, 5, tzinfo=UTC).timestamp())  # 01:00 EDT
    first, second = Calendar(new_york, "hour").span(low, low + 7200)
    assert local(first.start, new_york).isoformat() == "2024-11-03T01:00:00-04:00"
    assert local(second.start, new_york).isoformat() == "2024-11-03T01:00:00-05:00"


def test_misaligned_boundaries_are_only_off_quarter_hour_changes() -> None:
    st_johns = ZoneInfo("America/St_Johns")
    low = int(datetime(1990, 3, 31, tzinfo=UTC).timestamp())
    buckets = Calendar(st_johns, "hour").span(low, low + 2 * 86400)
    (edge,) = misaligned(buckets, low, low + 2 * 86400)
    assert local(edge, st_johns).isoformat() == "1990-04-01T01:01:00-02:30"
    midnight = buckets[[b.start for b in buckets].index(edge) - 1]
    assert local(midnight.start, st_johns).isoformat() == "1990-04-01T00:00:00-03:30"
    assert edge - midnight.start == 60


@settings(max_examples=300, deadline=None)
@given(
    zone=st.one_of(st.sampled_from(AWKWARD), st.sampled_from(ZONES)),
    unit=st.sampled_from(["hour", "day", "month"]),
    low=st.one_of(
        instants,
        # Newfoundland changed clocks at 00:01 until 2011: boundaries inside a slot.
        st.integers(min_value=536_457_600, max_value=1_293_840_000),
    ),
    fraction=st.floats(min_value=0.001, max_value=1),
    events=st.lists(st.floats(min_value=0, max_value=0.999999), min_size=1, max_size=40),
)
# 1990-04-01 in St. John's: at 00:01 (03:31 UTC) clocks jumped to 01:01, inside the 03:30 slot.
@example(
    zone="America/St_Johns",
    unit="hour",
    low=int(datetime(1990, 4, 1, 3, tzinfo=UTC).timestamp()),
    fraction=3600 / SPAN["hour"],
    events=[1830 / 3600, 1890 / 3600],
)
def test_slot_folding_places_every_row_in_its_own_bucket(zone, unit, low, fraction, events):
    """What the service does with SQL's 15-minute slots, with the rows made up here: each
    event's slot row lands in the bucket of the event itself, and the sums add up."""
    zone = ZoneInfo(zone)
    high = low + max(1, int(SPAN[unit] * fraction))
    buckets = clip(Calendar(zone, unit).span(low, high), low, high)
    instants_ = sorted({low + int((high - low) * e) for e in events})
    tally = Tally(buckets, ["bucket"])
    starts = [bucket.start for bucket in buckets]
    for piece_start, piece_end in slot_pieces(buckets, low, high):
        slots: dict[int, list[int]] = {}
        for instant in instants_:
            if piece_start <= instant < piece_end:
                slots.setdefault(instant // SLOT_SECONDS, []).append(instant)
        for slot, members in slots.items():
            placed = locate(starts, slot_instant(slot, piece_start))
            assert all(locate(starts, instant) == placed for instant in members)
            tally.add(slot_instant(slot, piece_start), {"bucket": placed, **counts(len(members))})
    per_bucket = tally.bucket_totals()
    assert tally.total().requests == len(instants_) == sum(t.requests for t in per_bucket)
    for index, totals in enumerate(per_bucket):
        assert totals.requests == sum(1 for i in instants_ if locate(starts, i) == index)


def counts(requests: int) -> dict[str, int]:
    return {
        "requests": requests,
        "errors": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_nanos": 0,
        "unpriced_requests": 0,
    }
