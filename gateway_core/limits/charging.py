"""Turning rules and one request into backend checks, and a refusal into the client's error."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway_core.errors import GatewayError, RateLimited
from gateway_core.limits.backend import Check, Kind, Verdict, member
from gateway_core.limits.charges import Hold, Period, Refusal, Window
from gateway_core.limits.headers import HeaderBuilder, format_reset
from gateway_core.limits.request import LimitRequest

if TYPE_CHECKING:
    from gateway_core.limits.rules import Rule

log = logging.getLogger("gateway.limits")

WINDOW_TTL_SLACK_MS = 1_000
#: How long a pool without a period (a concurrency limit) is kept after its last use.
IDLE_POOL_TTL_MS = 86_400_000
#: How long a period's pool outlives the period (so late settlements still find it).
PERIOD_GRACE_MS = 86_400_000
GLOBAL = "all"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One rule's charge on one request: the backend check and how to explain it."""

    rule: Rule
    scope_id: str
    check: Check
    period: Period | None

    @property
    def is_hold(self) -> bool:
        return self.check.kind is Kind.POOL

    def lease(self, token: str) -> tuple[str, str]:
        return self.check.name, member(token, self.check.amount)


def limits_of(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    value = metadata.get("limits")
    return value if isinstance(value, Mapping) else {}


@lru_cache(maxsize=1024)
def known_zone(name: object) -> bool:
    """Whether a team's time zone from the database can be used (else the default is, and a
    warning says why, once)."""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r on a team: using limits.timezone instead", name)
        return False
    return True


def _number(value: object) -> Decimal | int | None:
    """A limit from the database: ints and Decimals as they are, floats and numeric text too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


class Charger:
    """Computes the reservations of a request under a set of rules."""

    def __init__(self, lease_ms: int, default_timezone: str) -> None:
        self.lease_ms = lease_ms
        self.default_timezone = default_timezone

    def reservations(
        self, rules: tuple[Rule, ...], request: LimitRequest, scope_ids: dict[str, str | None]
    ) -> list[Reservation]:
        overrides = limits_of(request.identity.metadata)
        zone = overrides.get("timezone")
        if zone is None or not known_zone(zone):
            zone = self.default_timezone
        out = []
        for rule in rules:
            scope_id = scope_ids.get(rule.scope)
            if scope_id is None:
                continue
            limit = rule.limit
            if rule.override is not None:
                value = overrides.get(rule.override)
                if value is not None:
                    number = _number(value)
                    if number is not None:
                        limit = rule.strategy.units(number)
            if limit is None:
                continue
            request.timezone = zone if rule.scope in ("key", "team") else self.default_timezone
            charge = rule.strategy.charge(request)
            if charge is not None:
                out.append(self._reservation(rule, scope_id, limit, charge, request.now))
        return out

    def _reservation(
        self, rule: Rule, scope_id: str, limit: int, charge: Window | Hold, now: float
    ) -> Reservation:
        name = f"{rule.tag}:{scope_id}"
        if charge.name:
            name = f"{name}:{charge.name}"
        amount = max(int(charge.amount), 0)
        if isinstance(charge, Window):
            span = max(int(charge.seconds * 1000), 1)
            check = Check(name, Kind.WINDOW, limit, amount, span, span + WINDOW_TTL_SLACK_MS)
            return Reservation(rule, scope_id, check, None)
        period = charge.period
        if period is None:
            ttl = IDLE_POOL_TTL_MS
        else:
            name = f"{name}:{period.id}"
            ends = period.ends_at
            ttl = 0 if ends is None else max(int((ends - now) * 1000), 0) + PERIOD_GRACE_MS
        soft = rule.strategy.alert_at(limit)
        check = Check(name, Kind.POOL, limit, amount, self.lease_ms, ttl, soft)
        return Reservation(rule, scope_id, check, period)


def add_headers(builder: HeaderBuilder, reservations: list[Reservation], verdict: Verdict) -> None:
    for reservation, state in zip(reservations, verdict.states, strict=True):
        family = reservation.rule.strategy.header
        if family is not None and reservation.check.kind is Kind.WINDOW:
            builder.add(family, reservation.check.limit, state.remaining, state.reset_ms)


def refusal_error(reservation: Reservation, verdict: Verdict, now: float) -> GatewayError:
    """The strategy's error for this refusal, with headers saying which limit was hit."""
    strategy, check = reservation.rule.strategy, reservation.check
    retry: float | None = None
    if verdict.retry_ms >= 0:
        retry = verdict.retry_ms / 1000
    elif reservation.period is not None and reservation.period.ends_at is not None:
        retry = max(reservation.period.ends_at - now, 0.0)
    refusal = Refusal(
        strategy=strategy.type_name,
        scope=reservation.rule.scope,
        scope_id=reservation.scope_id,
        limit=check.limit,
        used=verdict.used,
        requested=check.amount,
        retry_after=retry,
        period=reservation.period,
    )
    error = strategy.refuse(refusal)
    error.headers["x-gateway-limit"] = f"{strategy.type_name}:{reservation.rule.scope}"
    family = strategy.header
    if family is not None and check.kind is Kind.WINDOW:
        error.headers[f"x-ratelimit-limit-{family}"] = str(check.limit)
        error.headers[f"x-ratelimit-remaining-{family}"] = str(max(check.limit - verdict.used, 0))
        error.headers[f"x-ratelimit-reset-{family}"] = format_reset(max(verdict.retry_ms, 0))
    return error


def combined_refusal(model: str, errors: list[GatewayError]) -> GatewayError:
    """Every deployment that could serve ``model`` is at one of its own limits."""
    if len(errors) == 1:
        return errors[0]
    waits = [error.retry_after for error in errors if error.retry_after is not None]
    reasons = " ".join(error.message for error in errors)
    error = RateLimited(
        f"Every deployment of model '{model}' is at its limit. {reasons}",
        retry_after=min(waits) if waits else None,
    )
    error.headers["x-gateway-limit"] = errors[0].headers.get("x-gateway-limit", "deployment")
    return error
