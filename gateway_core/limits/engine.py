"""The limits engine: every configured rule of a request checked and reserved in one step.

``admit`` collects the charge of each rule that applies to the request (key, team, model and
global scopes), asks the backend once to check and reserve all of them atomically, and returns
a :class:`StrategyAdmission`. That object checks deployment-scope limits before each attempt and
settles every reservation with the real usage and cost once the request is over (one more
backend call, skipped when nothing changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway_core.config import LimitDefaults
from gateway_core.errors import GatewayError, ServiceUnavailable
from gateway_core.limits.admission import UNLIMITED, Admission, LimitsEngine
from gateway_core.limits.alerts import AlertDispatcher, AlertHandler, LimitAlert
from gateway_core.limits.backend import Crossing, LimitBackend, Settlement
from gateway_core.limits.charges import Outcome, holder
from gateway_core.limits.charging import (
    GLOBAL,
    Charger,
    Reservation,
    add_headers,
    combined_refusal,
    refusal_error,
)
from gateway_core.limits.guard import BackendGuard, Unavailable
from gateway_core.limits.headers import HeaderBuilder
from gateway_core.limits.leases import LeaseKeeper
from gateway_core.limits.periods import PeriodClock
from gateway_core.limits.request import LimitRequest
from gateway_core.limits.rules import Rule, deployment_rules, request_rules
from gateway_core.limits.stats import LimitStats

if TYPE_CHECKING:
    from decimal import Decimal

    from gateway_core.pipeline import Exchange
    from gateway_core.routing.router import Deployment, ModelRoute
    from gateway_core.usage.pricing import Price
    from gateway_core.usage.records import Usage

log = logging.getLogger("gateway.limits")


class StrategyLimitsEngine(LimitsEngine):
    """Limits built from rules (``rules.py``) on a backend (Redis or in-process).

    ``models`` maps each public model to its deployments (with fallbacks) and ``prices`` gives
    each deployment's price, for worst-case costs. ``on_alert`` registers a handler for soft
    limits crossed.
    """

    def __init__(
        self,
        settings: LimitDefaults,
        rules: list[Rule],
        backend: LimitBackend,
        *,
        models: dict[str, tuple[str, ...]],
        prices: dict[str, Price | None],
        deployment_models: dict[str, str],
        workers: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.backend = backend
        self.workers = workers
        self.clock = clock
        self.stats = LimitStats()
        self.fail_open = settings.failure_mode == "open"
        self.guard = BackendGuard(
            backend, timeout=settings.timeout, fail_open=self.fail_open, stats=self.stats
        )
        lease_ms = max(int(settings.lease_ttl * 1000), 1)
        self.leases = LeaseKeeper(self.guard, lease_ms)
        self.charger = Charger(lease_ms, settings.timezone)
        self.alerts = AlertDispatcher()
        self.needs_usage = any(rule.strategy.needs_usage for rule in rules)
        self._periods = PeriodClock().period
        self._request_rules = {model: request_rules(rules, model) for model in models}
        self._deployment_rules = {
            deployment: found
            for deployment, model in deployment_models.items()
            if (found := deployment_rules(rules, deployment, model))
        }
        self._limited_plans = {
            model
            for model, deployments in models.items()
            if any(d in self._deployment_rules for d in deployments)
        }
        self._model_prices = {
            model: tuple({p for d in deployments if (p := prices.get(d)) is not None})
            for model, deployments in models.items()
        }
        self._prices = prices
        self._token_prefix = os.urandom(5).hex()
        self._sequence = itertools.count(1)

    # -- lifecycle ----------------------------------------------------------------------------

    def on_alert(self, handler: AlertHandler) -> None:
        """Call ``handler(LimitAlert)`` when a soft limit is crossed (after it is logged)."""
        self.alerts.add(handler)

    async def start(self) -> None:
        if not self.backend.distributed and self.workers > 1:
            log.warning(
                "limits are counted per worker process: %d workers without Redis each allow "
                "the full limit; set redis.url to share them",
                self.workers,
            )
        with contextlib.suppress(Unavailable):  # logged by the guard; scripts load on first use
            await self.guard.call("start", self.backend.start)
        self.leases.start()

    async def close(self) -> None:
        await self.leases.close()
        await self.backend.close()

    # -- admission ----------------------------------------------------------------------------

    def next_token(self) -> str:
        return f"{self._token_prefix}{next(self._sequence):x}"

    def request_for(self, exchange: Exchange) -> LimitRequest:
        call = exchange.call
        return LimitRequest(
            exchange.identity,
            call.public_model,
            call.operation,
            call.body,
            call.raw_body,
            now=self.clock(),
            timezone=self.settings.timezone,
            prices=self._model_prices.get(call.public_model, ()),
            default_max_tokens=self.settings.default_max_tokens,
            periods=self._periods,
        )

    async def admit(self, exchange: Exchange) -> Admission:
        model = exchange.call.public_model
        rules = self._request_rules.get(model, ())
        limited_plan = model in self._limited_plans
        if not rules and not limited_plan:
            return UNLIMITED
        request = self.request_for(exchange)
        identity = exchange.identity
        scope_ids = {
            "key": identity.subject,
            "team": identity.team_id,
            "model": model,
            "global": GLOBAL,
        }
        reservations = self.charger.reservations(rules, request, scope_ids) if rules else []
        if not reservations and not limited_plan:
            return UNLIMITED
        admission = StrategyAdmission(self, exchange.route, exchange, request, self.next_token())
        if reservations:
            try:
                if await self.reserve(admission, reservations, "admit"):
                    admission.reservations = reservations
            except Refused as refused:
                raise refused.error from None
        return admission

    async def reserve(
        self, admission: StrategyAdmission, reservations: list[Reservation], operation: str
    ) -> bool:
        """Check and reserve atomically: ``True`` when reserved, ``False`` when the backend is
        down and ``failure_mode: open`` lets the request through unchecked. Raises
        :class:`Refused` with the client's error, or 503 when failing closed."""
        checks = [r.check for r in reservations]
        token = admission.token
        try:
            verdict = await self.guard.call(operation, lambda: self.backend.admit(token, checks))
        except Unavailable:
            if self.fail_open:
                self.stats.failed_open += 1
                return False
            self.stats.failed_closed += 1
            raise ServiceUnavailable(
                "Rate limits cannot be checked right now; please retry shortly.",
                headers={"Retry-After": "1"},
            ) from None
        if not verdict.admitted:
            hit = reservations[verdict.refused]
            self.stats.refused[(hit.rule.strategy.type_name, hit.rule.scope)] += 1
            raise Refused(refusal_error(hit, verdict, self.clock()))
        add_headers(admission.header_builder, reservations, verdict)
        leases = [r.lease(token) for r in reservations if r.is_hold]
        if leases:
            self.leases.hold(token, leases)
        return True

    def deployment_rules(self, deployment_id: str) -> tuple[Rule, ...]:
        return self._deployment_rules.get(deployment_id, ())

    def prices_of(self, deployment_id: str) -> tuple[Price, ...]:
        price = self._prices.get(deployment_id)
        return (price,) if price is not None else ()

    # -- settlement ---------------------------------------------------------------------------

    async def settle(self, token: str, items: list[tuple[Reservation, Outcome]]) -> None:
        """Replace reservations by what was really used, and raise alerts for soft limits."""
        settled: list[Reservation] = []
        settlements: list[Settlement] = []
        for reservation, outcome in items:
            reserved = reservation.check.amount
            final = max(int(reservation.rule.strategy.settle(reserved, outcome)), 0)
            if final == reserved and not reservation.is_hold:
                continue  # a window entry that stays as it is
            settled.append(reservation)
            settlements.append(Settlement(reservation.check, reserved, final))
        holds = [r.lease(token) for r in settled if r.is_hold]
        if holds:
            self.leases.release(token, holds)
        if not settlements:
            return
        try:
            crossings = await self.guard.call(
                "settle", lambda: self.backend.settle(token, settlements)
            )
        except Unavailable:
            return  # holds lapse by themselves; spend of this request goes uncounted
        for crossing in crossings:
            self._alert(settled[crossing.index], crossing)

    def _alert(self, reservation: Reservation, crossing: Crossing) -> None:
        rule, strategy = reservation.rule, reservation.rule.strategy
        self.stats.alerts[(strategy.type_name, rule.scope)] += 1
        period = reservation.period
        during = f" ({period.kind} {period.id[1:]})" if period and period.kind != "total" else ""
        limit, used = strategy.format(reservation.check.limit), strategy.format(crossing.used)
        threshold = strategy.format(reservation.check.soft)
        message = (
            f"soft limit reached: {strategy.label or strategy.type_name} of "
            f"{holder(rule.scope, reservation.scope_id)}{during}: used {used} of {limit} "
            f"(alert at {threshold})"
        )
        self.alerts.dispatch(
            LimitAlert(
                strategy.type_name,
                rule.scope,
                reservation.scope_id,
                period,
                threshold,
                limit,
                used,
                message,
            )
        )


class Refused(Exception):
    """A limit refused the request; ``error`` is what the client gets."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class StrategyAdmission(Admission):
    """The reservations of one request, its deployment attempts and their settlement."""

    def __init__(
        self,
        engine: StrategyLimitsEngine,
        route: ModelRoute,
        exchange: Exchange,
        request: LimitRequest,
        token: str,
    ) -> None:
        self.engine = engine
        self.route = route
        self.router_routes = exchange.gateway.router.routes
        self.request = request
        self.token = token
        self.header_builder = HeaderBuilder()
        self.reservations: list[Reservation] = []
        self.by_deployment: dict[str, list[Reservation]] = {}
        self.granted: set[str] = set()
        self.refused: dict[str, GatewayError] = {}
        self.answered_by: str | None = None
        self.answered = False
        self.settled = False
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def headers(self) -> dict[str, str]:  # type: ignore[override]
        return self.header_builder.headers()

    async def acquire(self, deployment: Deployment) -> bool:
        engine = self.engine
        rules = engine.deployment_rules(deployment.id)
        if not rules:
            self.granted.add(deployment.id)
            return True
        request = self.request.for_deployment(deployment.id, engine.prices_of(deployment.id))
        reservations = engine.charger.reservations(rules, request, {"deployment": deployment.id})
        if reservations:
            try:
                if await engine.reserve(self, reservations, "acquire"):
                    self.by_deployment[deployment.id] = reservations
            except Refused as refused:
                self.refused[deployment.id] = refused.error
                if self._nothing_left():
                    raise combined_refusal(self.route.name, list(self.refused.values())) from None
                return False
        self.granted.add(deployment.id)
        return True

    def _nothing_left(self) -> bool:
        """Whether every deployment that could still serve this request refused it on its own
        limits (so the client should hear about those limits, not about unavailability)."""
        if self.granted:
            return False
        routes, route = self.router_routes, self.route
        plan = [route] + [
            routes[name] for name in route.fallbacks if name in routes and name != route.name
        ]
        now = time.monotonic()
        return not any(
            deployment.id not in self.refused and deployment.breaker.available(now)
            for route in plan
            for deployment in route.deployments
        )

    def attempt_finished(self, deployment: Deployment, answered: bool) -> None:
        if answered:
            self.answered = True
            self.answered_by = deployment.id
            return
        reservations = self.by_deployment.pop(deployment.id, None)
        if reservations:
            items = [(r, NOT_ANSWERED) for r in reservations]
            task = asyncio.create_task(self.engine.settle(self.token, items))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def settle(self, usage: Usage | None, cost: Decimal | None) -> None:
        if self.settled:
            return
        self.settled = True
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        outcome = Outcome(usage, cost, self.answered)
        items = [(r, outcome) for r in self.reservations]
        for deployment_id, reservations in self.by_deployment.items():
            served = outcome if deployment_id == self.answered_by else NOT_ANSWERED
            items += [(r, served) for r in reservations]
        self.by_deployment = {}
        try:
            await self.engine.settle(self.token, items)
        finally:
            self.engine.leases.release(self.token)


NOT_ANSWERED = Outcome(None, None, answered=False)
