"""The contract between the request path and limit enforcement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway_core.pipeline import Exchange
    from gateway_core.routing.router import Deployment
    from gateway_core.usage.records import Usage


class Admission:
    """What admission reserved for one request.

    ``headers`` are sent to the client (``x-ratelimit-*``). ``acquire`` is asked before each
    attempt on a deployment (deployment-scope limits; ``False`` skips that deployment; when no
    deployment that could serve the request is left, it raises the 429 naming their limits) and
    ``attempt_finished`` is told how the attempt ended. ``settle`` is called exactly once, with
    the real usage and cost when known (``None`` when the request failed before any answer).
    """

    headers: Mapping[str, str] = {}

    async def acquire(self, deployment: Deployment) -> bool:
        return True

    def attempt_finished(self, deployment: Deployment, answered: bool) -> None:
        """The attempt on ``deployment`` ended; ``answered`` is whether it produced a response."""

    async def settle(self, usage: Usage | None, cost: Decimal | None) -> None:
        """Reconcile reservations with what was used (refund the difference)."""


class Unlimited(Admission):
    """The admission of a gateway with no limits configured: nothing to reserve or settle."""


UNLIMITED = Unlimited()


class LimitsEngine:
    """Admits requests. This base engine enforces nothing; the limits capability replaces it
    with one built from the configured strategies."""

    #: Whether settlement needs real token usage (token and spend limits do).
    needs_usage = False

    async def admit(self, exchange: Exchange) -> Admission:
        return UNLIMITED

    def on_alert(self, handler: Callable[[Any], None]) -> None:
        """Call ``handler(alert)`` when a soft limit is crossed (a ``limits.alerts.LimitAlert``);
        an engine without soft limits never calls it."""

    async def start(self) -> None:
        """Per-worker start (scripts loaded, connections opened)."""

    async def close(self) -> None:
        """Per-worker shutdown."""
