"""The shape of a usage report, for the OpenAPI document (the service builds plain dicts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UsageMetrics(BaseModel):
    requests: int
    errors: int = Field(description="requests answered with a status of 400 or more")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: str = Field(description="exact decimal string, nine decimals")
    unpriced_requests: int = Field(
        description="requests whose cost is unknown (no price): if not 0, cost_usd is a lower bound"
    )


class UsageGroup(UsageMetrics):
    dimensions: dict[str, str | None] = Field(
        description="the value of each group_by dimension (key, team, model, provider, user)"
    )


class UsageBucket(BaseModel):
    start: str = Field(description="ISO 8601 in the report's time zone, inclusive")
    end: str = Field(description="ISO 8601 in the report's time zone, exclusive")
    totals: UsageMetrics
    groups: list[UsageGroup] = Field(description="one per combination of group_by values seen")


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    object: Literal["usage.report"]
    from_: str = Field(alias="from")
    to: str
    tz: str
    bucket: Literal["hour", "day", "month", "none"]
    group_by: list[str]
    filters: dict[str, list[str]] = Field(
        description="entities asked for: a request counts once if it matches any of them"
    )
    scope: dict[str, str] = Field(
        description="limits every counted request must meet: a team admin's team, a key's own id"
    )
    totals: UsageMetrics
    buckets: list[UsageBucket]
