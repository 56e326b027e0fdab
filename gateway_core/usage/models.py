"""Tortoise models of usage: one append-only row per client request, and daily rollups.

No request reads or updates these tables on its path: rows arrive in batches from the database
sink, and only the usage service (admin queries) reads them. ``ts_epoch`` (whole seconds, UTC)
lets every supported database group by any fixed interval with integer arithmetic.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class UsageRecord(Model):
    id = fields.BigIntField(primary_key=True)
    #: The gateway's request id: unique, so replaying a spooled batch can never count twice.
    request_id = fields.CharField(max_length=128, unique=True)
    ts = fields.DatetimeField()
    ts_epoch = fields.BigIntField()
    subject = fields.CharField(max_length=80, null=True)
    team_id = fields.CharField(max_length=40, null=True)
    end_user = fields.CharField(max_length=200, null=True)
    public_model = fields.CharField(max_length=200)
    deployment_id = fields.CharField(max_length=200, null=True)
    provider = fields.CharField(max_length=40, null=True)
    attempts = fields.SmallIntField(default=1)
    prompt_tokens = fields.IntField(null=True)
    completion_tokens = fields.IntField(null=True)
    cached_prompt_tokens = fields.IntField(null=True)
    #: Cost in billionths of a US dollar: integers sum exactly in every database.
    cost_nanos = fields.BigIntField(null=True)
    latency_ms = fields.FloatField(null=True)
    ttft_ms = fields.FloatField(null=True)
    status = fields.SmallIntField()
    error_code = fields.CharField(max_length=60, null=True)
    streamed = fields.BooleanField(default=False)
    #: True when token counts were estimated (a stream the client left before its usage chunk).
    estimated = fields.BooleanField(default=False)

    class Meta:
        table = "gw_usage_record"
        indexes = (
            Index(fields=("ts_epoch",)),
            Index(fields=("team_id", "ts_epoch")),
            Index(fields=("subject", "ts_epoch")),
            Index(fields=("public_model", "ts_epoch")),
        )


class UsageDailyRollup(Model):
    """Totals of one finished local day in one time zone, per combination of dimensions.

    Written once when a finished day is first asked for, never updated afterwards.
    """

    id = fields.BigIntField(primary_key=True)
    tz = fields.CharField(max_length=64)
    day = fields.DateField()
    subject = fields.CharField(max_length=80, null=True)
    team_id = fields.CharField(max_length=40, null=True)
    end_user = fields.CharField(max_length=200, null=True)
    public_model = fields.CharField(max_length=200)
    provider = fields.CharField(max_length=40, null=True)
    requests = fields.IntField()
    errors = fields.IntField()
    prompt_tokens = fields.BigIntField()
    completion_tokens = fields.BigIntField()
    cost_nanos = fields.BigIntField(null=True)
    #: Requests whose cost is unknown (no price): a total with these is a lower bound.
    unpriced = fields.IntField()

    class Meta:
        table = "gw_usage_daily_rollup"
        indexes = (Index(fields=("tz", "day")),)


class UsageRollupDay(Model):
    """Which (time zone, day) rollups exist: the marker written with them, in one transaction."""

    id = fields.BigIntField(primary_key=True)
    tz = fields.CharField(max_length=64)
    day = fields.DateField()

    class Meta:
        table = "gw_usage_rollup_day"
        unique_together = (("tz", "day"),)
