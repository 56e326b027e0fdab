"""Built-in limit strategies: requests and tokens per minute, requests in flight, spend budgets.

Registered through the same hook as a third party's; see ``docs/limits.md``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway_core import hookimpl
from gateway_core.api import Hold, LimitRequest, LimitStrategy, Outcome, Refusal, Window
from gateway_core.errors import GatewayError, QuotaExceeded, RateLimited

if TYPE_CHECKING:
    from gateway_core.limits.charges import Period
    from gateway_core.registry import Registry

MINUTE = 60.0
MICRO = Decimal(1_000_000)


class RequestsPerMinute(LimitStrategy):
    """Requests in any sliding 60-second window."""

    type_name = "rpm"
    label = "requests per minute (rpm)"
    header = "requests"
    overrides = {"key": "rpm", "team": "team_rpm"}

    def charge(self, request: LimitRequest) -> Window:
        return Window(MINUTE, 1)


class TokensPerMinute(LimitStrategy):
    """Tokens in any sliding 60-second window.

    Admission reserves the estimated prompt plus the most the completion may use; settlement
    replaces that by the real total (nothing when no upstream answered; the reservation stays
    when an upstream answered without reporting usage).
    """

    type_name = "tpm"
    label = "tokens per minute (tpm)"
    header = "tokens"
    needs_usage = True
    overrides = {"key": "tpm", "team": "team_tpm"}

    def charge(self, request: LimitRequest) -> Window:
        return Window(MINUTE, request.prompt_tokens + request.max_completion_tokens)

    def settle(self, reserved: int, outcome: Outcome) -> int:
        if outcome.usage is not None:
            return outcome.usage.total_tokens
        return reserved if outcome.answered else 0


class ParallelRequests(LimitStrategy):
    """Requests in flight at once; each holds a lease until it ends (or its worker dies)."""

    type_name = "parallel"
    label = "requests in flight (parallel)"
    overrides = {"key": "parallel", "team": "team_parallel"}

    def charge(self, request: LimitRequest) -> Hold:
        return Hold(1)

    def settle(self, reserved: int, outcome: Outcome) -> int:
        return 0

    def refuse(self, refusal: Refusal) -> GatewayError:
        return RateLimited(
            f"Too many requests in flight for {refusal.holder}: "
            f"Limit {refusal.limit}, In flight {refusal.used}. Please retry when one finishes.",
            retry_after=refusal.retry_after or 1.0,
        )


class BudgetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: When the spend restarts from zero, in the team's time zone (``limits.timezone`` else).
    period: Literal["day", "week", "month", "total"] = "month"
    #: Spend in USD that raises an alert (logged, and passed to alert handlers) once per period.
    soft_limit: Decimal | None = Field(None, ge=0)
    #: The same as a share of the limit (also applies to budgets from the database).
    soft_ratio: Decimal | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_soft_limit(self) -> BudgetOptions:
        if self.soft_limit is not None and self.soft_ratio is not None:
            raise ValueError("set soft_limit or soft_ratio, not both")
        return self


class SpendBudget(LimitStrategy):
    """Spend in USD per period, counted in millionths of a dollar.

    Admission holds the request's worst-case cost (every prompt token at its bound, every
    allowed output token, at the highest price among the deployments that may serve it), so
    concurrent requests can never together overspend; settlement keeps the real cost. When an
    upstream answered without usage the worst case is kept; a deployment without a known price
    costs nothing here (set ``price:`` on it).
    """

    type_name = "budget"
    label = "spend budget"
    config_model = BudgetOptions
    needs_usage = True
    overrides = {"key": "budget_usd", "team": "team_budget_usd"}
    config: BudgetOptions

    def units(self, value: Decimal | int) -> int:
        return int((Decimal(value) * MICRO).to_integral_value(ROUND_FLOOR))

    def format(self, units: int) -> str:
        dollars = Decimal(units) / MICRO
        text = f"{dollars:.6f}".rstrip("0")
        whole, _, cents = text.partition(".")
        return f"${whole}.{cents.ljust(2, '0')}"

    def charge(self, request: LimitRequest) -> Hold:
        cost = request.worst_case_cost
        amount = _micro(cost) if cost is not None else 0
        return Hold(amount, period=request.period(self.config.period))

    def settle(self, reserved: int, outcome: Outcome) -> int:
        if outcome.cost is not None:
            return _micro(outcome.cost)
        if outcome.answered and outcome.usage is None:
            return reserved  # used, but how much is unknown: keep the worst case
        return 0

    def alert_at(self, limit: int) -> int:
        options = self.config
        if options.soft_limit is not None:
            return self.units(options.soft_limit)
        if options.soft_ratio is not None:
            return int((options.soft_ratio * limit).to_integral_value(ROUND_FLOOR))
        return 0

    def refuse(self, refusal: Refusal) -> GatewayError:
        period = refusal.period
        when = _describe_period(period) if period is not None else ""
        return QuotaExceeded(
            f"Budget exceeded for {refusal.holder}{when}: "
            f"Limit {self.format(refusal.limit)}, Spent or reserved {self.format(refusal.used)}, "
            f"this request may cost up to {self.format(refusal.requested)}.",
            retry_after=refusal.retry_after,
        )


def _micro(cost: Decimal) -> int:
    return int((cost * MICRO).to_integral_value(ROUND_CEILING))


def _describe_period(period: Period) -> str:
    if period.ends_at is None:
        return " (total)"
    resets = datetime.fromtimestamp(period.ends_at, ZoneInfo(period.timezone))
    when = "today" if period.kind == "day" else f"this {period.kind}"
    return f" ({when}; resets {resets:%Y-%m-%d %H:%M} {period.timezone})"


@hookimpl
def gateway_register_limit_strategies(strategies: Registry[type[LimitStrategy]]) -> None:
    for strategy in (RequestsPerMinute, TokensPerMinute, ParallelRequests, SpendBudget):
        strategies.add(strategy)
