"""Usage events into the ``gw_usage_record`` table, in batches, idempotent on request id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from gateway_core.api import UsageEvent, UsageSink
from gateway_core.usage.models import UsageRecord

NANO = Decimal("0.000000001")


def to_nanos(cost: Decimal | None) -> int | None:
    if cost is None:
        return None
    return int((cost / NANO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_record(event: UsageEvent) -> UsageRecord:
    return UsageRecord(
        request_id=event.request_id,
        ts=datetime.fromtimestamp(event.timestamp, UTC),
        ts_epoch=int(event.timestamp),
        subject=event.subject,
        team_id=event.team_id,
        end_user=event.end_user[:200] if event.end_user else None,
        public_model=event.public_model,
        deployment_id=event.deployment_id,
        provider=event.provider,
        attempts=event.attempts,
        prompt_tokens=event.prompt_tokens,
        completion_tokens=event.completion_tokens,
        cached_prompt_tokens=event.cached_prompt_tokens,
        cost_nanos=to_nanos(event.cost),
        latency_ms=event.latency_ms,
        ttft_ms=event.ttft_ms,
        status=event.status,
        error_code=event.error_code,
        streamed=event.streamed,
        estimated=event.estimated,
    )


class DatabaseSink(UsageSink):
    """One multi-row insert per batch; a request id already stored is skipped, which makes
    replaying a spooled batch safe."""

    type_name = "database"

    async def write(self, events: Sequence[UsageEvent]) -> None:
        await UsageRecord.bulk_create([to_record(e) for e in events], ignore_conflicts=True)
