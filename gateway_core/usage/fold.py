"""Folding aggregate rows (of slots, days or whole ranges) into report buckets and groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from gateway_core.usage.buckets import SLOT_SECONDS, Bucket, iso, locate, misaligned
from gateway_core.usage.totals import Totals

Group = tuple[Any, ...]


class Tally:
    """Totals per bucket and per combination of ``columns``, filled in any order.

    Each row is placed by one instant inside it (a slot's or a day's first second within the
    range), so a row lands in exactly one bucket and the buckets' sums add up to the total.
    """

    def __init__(self, buckets: Sequence[Bucket], columns: Sequence[str]) -> None:
        self.buckets = list(buckets)
        self.columns = tuple(columns)
        self._starts = [bucket.start for bucket in self.buckets]
        self._groups: list[dict[Group, Totals]] = [{} for _ in self.buckets]

    def add(self, instant: int, row: Mapping[str, Any]) -> None:
        index = locate(self._starts, instant)
        if index < 0 or instant >= self.buckets[index].end:
            raise ValueError(f"instant {instant} is outside the report's buckets")
        group = tuple(row[column] for column in self.columns)
        totals = self._groups[index].setdefault(group, Totals())
        totals.add(Totals.from_row(row))

    def bucket_totals(self) -> list[Totals]:
        sums = []
        for groups in self._groups:
            total = Totals()
            for totals in groups.values():
                total.add(totals)
            sums.append(total)
        return sums

    def total(self) -> Totals:
        total = Totals()
        for totals in self.bucket_totals():
            total.add(totals)
        return total

    def as_buckets(self, zone: ZoneInfo, names: Sequence[str]) -> list[dict[str, Any]]:
        """Buckets for the report: bounds in local time, totals, and groups named ``names``
        (the API's names of ``columns``) in a stable order."""
        out = []
        for bucket, groups, total in zip(
            self.buckets, self._groups, self.bucket_totals(), strict=True
        ):
            ordered = sorted(groups.items(), key=lambda item: _sort_key(item[0]))
            out.append(
                {
                    "start": iso(bucket.start, zone),
                    "end": iso(bucket.end, zone),
                    "totals": total.as_dict(),
                    "groups": [
                        {"dimensions": dict(zip(names, group, strict=True)), **totals.as_dict()}
                        for group, totals in ordered
                    ]
                    if self.columns
                    else [],
                }
            )
        return out


def _sort_key(group: Group) -> tuple[tuple[bool, str], ...]:
    return tuple((value is not None, str(value or "")) for value in group)


def slot_pieces(buckets: Sequence[Bucket], low: int, high: int) -> list[tuple[int, int]]:
    """``[low, high)`` cut where a bucket boundary falls inside a slot, so that within a piece
    every slot (clipped to the piece) lies in one bucket."""
    edges = misaligned(buckets, low, high)
    return list(zip([low, *edges], [*edges, high], strict=True))


def slot_instant(slot: int, piece_start: int) -> int:
    """The instant that places a slot's aggregate row of a piece: its first second there."""
    return max(slot * SLOT_SECONDS, piece_start)
