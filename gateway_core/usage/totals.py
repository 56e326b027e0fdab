"""The figures reported for a bucket or group, kept as integers until they are shown."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

#: Column names of the aggregate queries, in this order, for raw rows and rollups alike.
METRICS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cost_nanos",
    "unpriced_requests",
)


@dataclass(slots=True)
class Totals:
    """Sums and counts only: they add up across slots, days and processes without loss."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_nanos: int = 0
    #: Requests whose cost is unknown: with any of these, ``cost_usd`` is a lower bound.
    unpriced_requests: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Totals:
        """Read an aggregate row; SQL ``SUM`` gives NULL over no values and PostgreSQL
        gives ``Decimal`` for sums of bigints."""
        return cls(*(int(row[name] or 0) for name in METRICS))

    def add(self, other: Totals) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost_usd": usd(self.cost_nanos),
            "unpriced_requests": self.unpriced_requests,
        }


def usd(nanos: int) -> str:
    """Exact dollars with nine decimals, as a string (``"0.001250000"``)."""
    return f"{Decimal(nanos).scaleb(-9):.9f}"
