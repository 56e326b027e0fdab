"""Queries of the files and batches tables, including the lease that hands lines to workers.

Claiming is one statement per dialect so that two workers never take the same line: PostgreSQL
locks the chosen rows with ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers, so a
conditional ``UPDATE … RETURNING`` is already atomic. Recording a result is a conditional
UPDATE too: it succeeds only for the worker that still holds the lease.
"""

from __future__ import annotations

from typing import Any

from tortoise import BaseDBAsyncClient
from tortoise.expressions import Q

from gateway_core.batches.lifecycle import CANCELLING, FINALIZING, IN_PROGRESS
from gateway_core.batches.models import DONE, PENDING, Batch, BatchFile, BatchLine

# Starts with WITH, not UPDATE: Tortoise's asyncpg client drops the rows of an UPDATE.
CLAIM_POSTGRES = """
WITH picked AS (
    SELECT l.id FROM gw_batch_line l JOIN gw_batch b ON b.id = l.batch_id
    WHERE l.state = 'pending' AND b.status = 'in_progress'
      AND (l.lease_until IS NULL OR l.lease_until < $3)
    ORDER BY l.id LIMIT $4 FOR UPDATE OF l SKIP LOCKED
)
UPDATE gw_batch_line SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
FROM picked WHERE gw_batch_line.id = picked.id
RETURNING gw_batch_line.id
"""
CLAIM_SQLITE = """
UPDATE gw_batch_line SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
WHERE id IN (
    SELECT l.id FROM gw_batch_line l JOIN gw_batch b ON b.id = l.batch_id
    WHERE l.state = 'pending' AND b.status = 'in_progress'
      AND (l.lease_until IS NULL OR l.lease_until < ?)
    ORDER BY l.id LIMIT ?
)
RETURNING id
"""


async def claim_lines(
    connection: BaseDBAsyncClient, dialect: str, owner: str, now: float, lease: float, limit: int
) -> list[BatchLine]:
    """Lease up to ``limit`` pending lines of running batches to ``owner``."""
    sql = CLAIM_POSTGRES if dialect == "postgres" else CLAIM_SQLITE
    _, rows = await connection.execute_query(sql, [owner, now + lease, now, limit])
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    return await BatchLine.filter(id__in=ids, lease_owner=owner).order_by("id")


async def record_result(line: BatchLine, owner: str, outcome: str, result: str) -> bool:
    """Finish a leased line with its result; ``False`` when the lease was lost meanwhile."""
    updated = await BatchLine.filter(id=line.id, state=PENDING, lease_owner=owner).update(
        state=DONE, outcome=outcome, result=result, lease_owner=None, lease_until=None
    )
    return updated == 1


async def postpone(line: BatchLine, owner: str, until: float) -> None:
    """Give a leased line back, not to be taken again before ``until`` (a limit said wait)."""
    await BatchLine.filter(id=line.id, state=PENDING, lease_owner=owner).update(
        lease_owner=None, lease_until=until
    )


async def pending_lines(batch_id: str) -> list[BatchLine]:
    return await BatchLine.filter(batch_id=batch_id, state=PENDING).order_by("line_no")


async def close_line(line_id: int, outcome: str, result: str) -> bool:
    """Finish a line that will not run (expired, cancelled), whoever holds its lease."""
    updated = await BatchLine.filter(id=line_id, state=PENDING).update(
        state=DONE, outcome=outcome, result=result, lease_owner=None, lease_until=None
    )
    return updated == 1


async def counts(batch_id: str) -> dict[str, int]:
    """``{outcome or "pending": lines}`` of one batch."""
    rows = await BatchLine.filter(batch_id=batch_id).values_list("state", "outcome")
    result: dict[str, int] = {}
    for state, outcome in rows:
        key = outcome if state == DONE and outcome else PENDING
        result[key] = result.get(key, 0) + 1
    return result


async def has_pending(batch_id: str) -> bool:
    return await BatchLine.filter(batch_id=batch_id, state=PENDING).exists()


async def done_lines(batch_id: str) -> list[tuple[int, str, str]]:
    """``(line_no, outcome, result)`` of every finished line, in input order."""
    rows = (
        await BatchLine.filter(batch_id=batch_id, state=DONE)
        .order_by("line_no")
        .values_list("line_no", "outcome", "result")
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


# -- batches -----------------------------------------------------------------------------


async def running_batches() -> list[Batch]:
    """Batches a worker may have to act on: run, cancel, expire or finalise."""
    return await Batch.filter(status__in=[IN_PROGRESS, CANCELLING, FINALIZING])


async def take_for_finalizing(
    batch: Batch, owner: str, now: float, lease: float, **changes: Any
) -> bool:
    """Become the one worker that finalises ``batch``: from a running status, or from a
    finalisation whose worker's lease ran out."""
    query = Batch.filter(id=batch.id, status=batch.status)
    if batch.status == FINALIZING:
        query = query.filter(lease_until__lt=now)
    updated = await query.update(lease_owner=owner, lease_until=now + lease, **changes)
    return updated == 1


async def set_status(batch_id: str, expected: str, **changes: Any) -> bool:
    return await Batch.filter(id=batch_id, status=expected).update(**changes) == 1


async def find_batch(batch_id: str, scope: str) -> Batch | None:
    return await Batch.get_or_none(id=batch_id, scope=scope) if len(batch_id) <= 64 else None


async def find_file(file_id: str, scope: str) -> BatchFile | None:
    return await BatchFile.get_or_none(id=file_id, scope=scope) if len(file_id) <= 64 else None


async def page(query: Any, limit: int, after: Any | None) -> tuple[list[Any], bool]:
    """Newest first, after the object ``after`` (OpenAI's cursor is the last id seen)."""
    if after is not None:
        query = query.filter(
            Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, id__lt=after.id)
        )
    rows = await query.order_by("-created_at", "-id").limit(limit + 1)
    return rows[:limit], len(rows) > limit
