"""Soft-limit alerts: a budget crossed its warning threshold (once per counter and period)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway_core.limits.charges import Period

log = logging.getLogger("gateway.limits")


@dataclass(frozen=True, slots=True)
class LimitAlert:
    """What crossed which threshold. Amounts are formatted in the strategy's unit ("$8.01")."""

    strategy: str
    scope: str
    scope_id: str
    period: Period | None
    threshold: str
    limit: str
    used: str
    message: str


AlertHandler = Callable[[LimitAlert], None]


class AlertDispatcher:
    """Logs each alert and hands it to every registered handler (usage sinks, webhooks)."""

    def __init__(self) -> None:
        self.handlers: list[AlertHandler] = []

    def add(self, handler: AlertHandler) -> None:
        self.handlers.append(handler)

    def dispatch(self, alert: LimitAlert) -> None:
        log.warning("%s", alert.message)
        for handler in self.handlers:
            try:
                handler(alert)
            except Exception:
                log.exception("a limit alert handler failed")
