"""The SQL behind usage reports: aggregates of raw records, sums of rollups, pages of records.

Written as plain SQL because the one thing that matters, integer arithmetic on ``ts_epoch``
(``ts_epoch / 900`` is the 15-minute slot), reads the same in SQLite and PostgreSQL; only the
placeholders differ. Every filter is in the ``WHERE`` clause, so each row is counted at most
once however many of the listed entities it matches.

Statements are assembled from the fixed names below and placeholders only; every value travels
as a parameter (hence the ``noqa: S608``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise import BaseDBAsyncClient

from gateway_core.usage.buckets import SLOT_SECONDS

#: API name of each dimension and its column (the same in records and rollups).
DIMENSIONS: dict[str, str] = {
    "key": "subject",
    "team": "team_id",
    "model": "public_model",
    "provider": "provider",
    "user": "end_user",
}
ROLLUP_COLUMNS = tuple(DIMENSIONS.values())

RECORDS = "gw_usage_record"
ROLLUPS = "gw_usage_daily_rollup"

#: A request without a cost is unpriced if it succeeded or used tokens; a failed request that
#: used no tokens cost nothing.
UNPRICED = (
    '"cost_nanos" IS NULL AND ("status" < 400 OR "prompt_tokens" IS NOT NULL '
    'OR "completion_tokens" IS NOT NULL)'
)
_AGGREGATES = ", ".join(
    (
        'COUNT(*) AS "requests"',
        'SUM(CASE WHEN "status" >= 400 THEN 1 ELSE 0 END) AS "errors"',
        'SUM(COALESCE("prompt_tokens", 0)) AS "prompt_tokens"',
        'SUM(COALESCE("completion_tokens", 0)) AS "completion_tokens"',
        'SUM("cost_nanos") AS "cost_nanos"',
        f'SUM(CASE WHEN {UNPRICED} THEN 1 ELSE 0 END) AS "unpriced_requests"',
    )
)
_ROLLUP_SUMS = ", ".join(
    (
        'SUM("requests") AS "requests"',
        'SUM("errors") AS "errors"',
        'SUM("prompt_tokens") AS "prompt_tokens"',
        'SUM("completion_tokens") AS "completion_tokens"',
        'SUM("cost_nanos") AS "cost_nanos"',
        'SUM("unpriced") AS "unpriced_requests"',
    )
)
RECORD_COLUMNS = (
    "id",
    "request_id",
    "ts_epoch",
    "subject",
    "team_id",
    "end_user",
    "public_model",
    "deployment_id",
    "provider",
    "attempts",
    "status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "cost_nanos",
    "latency_ms",
    "ttft_ms",
    "streamed",
    "estimated",
)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which records count.

    ``any_of`` lists entities per dimension: a record counts when it matches at least one of
    them, in any dimension (so ``key=k1&team=t1`` counts a request of k1 in t1 once). Empty
    means every record. ``scope`` holds values every counted record must have (the caller's
    permission boundary, such as a team admin's team).
    """

    any_of: tuple[tuple[str, tuple[str, ...]], ...] = ()
    scope: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        any_of: Mapping[str, Iterable[str]] | None = None,
        scope: Mapping[str, str] | None = None,
    ) -> Selection:
        """A normalised (sorted, hashable) selection."""
        listed = {dim: tuple(sorted(set(values))) for dim, values in (any_of or {}).items()}
        return cls(
            tuple(sorted((dim, values) for dim, values in listed.items() if values)),
            tuple(sorted((scope or {}).items())),
        )


class _Statement:
    """Collects parameters and writes each dialect's placeholder for them.

    Call :meth:`param` in the order the placeholders appear in the statement: SQLite's ``?``
    are bound by position.
    """

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.postgres = connection.capabilities.dialect == "postgres"
        self.values: list[Any] = []

    def param(self, value: Any) -> str:
        if isinstance(value, date) and not self.postgres:
            value = value.isoformat()  # SQLite keeps dates as ISO text
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"

    def where(self, selection: Selection) -> str:
        clauses = []
        listed = [
            f'"{DIMENSIONS[dim]}" IN ({", ".join(self.param(v) for v in values)})'
            for dim, values in selection.any_of
        ]
        if listed:
            clauses.append("(" + " OR ".join(listed) + ")")
        clauses += [f'"{DIMENSIONS[dim]}" = {self.param(value)}' for dim, value in selection.scope]
        return "".join(f" AND {clause}" for clause in clauses)


def _quoted(columns: Sequence[str]) -> str:
    return "".join(f', "{column}"' for column in columns)


async def record_totals(
    connection: BaseDBAsyncClient,
    low: int,
    high: int,
    selection: Selection,
    columns: Sequence[str],
    *,
    slotted: bool,
) -> list[dict[str, Any]]:
    """Sums of the records in ``[low, high)`` per value of ``columns`` (and per 15-minute slot,
    as ``slot``, when ``slotted``)."""
    sql = _Statement(connection)
    keys = ([f'"ts_epoch" / {SLOT_SECONDS}'] if slotted else []) + [f'"{c}"' for c in columns]
    head = f'"ts_epoch" / {SLOT_SECONDS} AS "slot"' if slotted else '1 AS "one"'
    query = (
        f"SELECT {head}{_quoted(columns)}, {_AGGREGATES} "  # noqa: S608
        f'FROM "{RECORDS}" WHERE "ts_epoch" >= {sql.param(low)} AND "ts_epoch" < {sql.param(high)}'
        f"{sql.where(selection)}" + (f" GROUP BY {', '.join(keys)}" if keys else "")
    )
    rows = await connection.execute_query_dict(query, sql.values)
    return [row for row in rows if row["requests"]]


async def rollup_totals(
    connection: BaseDBAsyncClient,
    tz: str,
    first: date,
    last: date,
    selection: Selection,
    columns: Sequence[str],
) -> list[dict[str, Any]]:
    """Sums of the stored rollups of days ``first`` to ``last`` (inclusive) per day and per
    value of ``columns``; ``day`` comes back as a :class:`date`."""
    sql = _Statement(connection)
    query = (
        f'SELECT "day"{_quoted(columns)}, {_ROLLUP_SUMS} FROM "{ROLLUPS}" '  # noqa: S608
        f'WHERE "tz" = {sql.param(tz)} AND "day" >= {sql.param(first)} '
        f'AND "day" <= {sql.param(last)}{sql.where(selection)} '
        f'GROUP BY "day"{_quoted(columns)}'
    )
    rows = await connection.execute_query_dict(query, sql.values)
    for row in rows:
        if isinstance(row["day"], str):
            row["day"] = date.fromisoformat(row["day"])
    return rows


async def earliest_record(connection: BaseDBAsyncClient) -> int | None:
    """``ts_epoch`` of the oldest record (an index lookup), or ``None`` when there is none."""
    query = f'SELECT MIN("ts_epoch") AS "first" FROM "{RECORDS}"'  # noqa: S608
    rows = await connection.execute_query_dict(query)
    first = rows[0]["first"] if rows else None
    return None if first is None else int(first)


async def record_page(
    connection: BaseDBAsyncClient,
    low: int,
    high: int,
    selection: Selection,
    after: tuple[int, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` records in ``[low, high)`` in time order, after the ``(ts_epoch, id)``
    of the previous page's last record (keyset pagination: constant cost per page)."""
    sql = _Statement(connection)
    columns = ", ".join(f'"{c}"' for c in RECORD_COLUMNS)
    query = (
        f'SELECT {columns} FROM "{RECORDS}" WHERE "ts_epoch" >= {sql.param(low)} '  # noqa: S608
        f'AND "ts_epoch" < {sql.param(high)}{sql.where(selection)}'
    )
    if after is not None:
        query += (
            f' AND ("ts_epoch" > {sql.param(after[0])} OR ("ts_epoch" = {sql.param(after[0])}'
            f' AND "id" > {sql.param(after[1])}))'
        )
    query += f' ORDER BY "ts_epoch", "id" LIMIT {int(limit)}'
    return await connection.execute_query_dict(query, sql.values)
