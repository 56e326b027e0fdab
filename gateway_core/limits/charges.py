"""The values limit strategies exchange with the engine.

A strategy never talks to a backend. It says what one request takes from a limit (a
:class:`Window` or a :class:`Hold`), and the engine turns every such charge of a request into one
atomic operation on the backend. Keeping the vocabulary this small is what lets every limit of a
request be checked in a single Redis round trip, with identical meaning in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway_core.usage.records import Usage


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period in a time zone: budgets and daily counters restart with a new one.

    ``id`` names the period (``d2026-11-22``, ``w2026-W47``, ``m2026-11``, ``total``) and becomes
    part of the counter's name; ``starts_at`` and ``ends_at`` are epoch seconds (``None`` for
    ``total``).
    """

    kind: str
    id: str
    starts_at: float | None
    ends_at: float | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Window:
    """Count ``amount`` for ``seconds`` from now: a sliding-window rate limit.

    Refused when the amounts counted in the last ``seconds`` plus this one would exceed the
    limit. ``name`` splits the counter further (one per end user, say).
    """

    seconds: float
    amount: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold ``amount`` while the request runs, then keep what ``settle`` returns.

    Refused when what is already kept in the period, plus what other requests hold, plus this
    amount would exceed the limit. A hold is a lease: it expires (``limits.lease_ttl``) unless
    its worker renews it, so a crashed instance leaks nothing. Concurrency limits keep nothing
    (``settle`` returns 0); budgets keep the real cost.
    """

    amount: int
    period: Period | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request really used, for settlement.

    ``answered`` is whether any upstream produced a response; ``usage`` and ``cost`` are
    ``None`` when unknown (no answer, an upstream that does not report usage, no price).
    """

    usage: Usage | None
    cost: Decimal | None
    answered: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which limit refused a request, for the strategy to word the client's error."""

    strategy: str
    scope: str
    scope_id: str
    limit: int
    used: int
    requested: int
    #: Seconds until the request could fit, ``None`` when unknown or never.
    retry_after: float | None
    period: Period | None = None

    @property
    def holder(self) -> str:
        """Whose limit it is, for messages: ``key key_1``, ``team t_1``, ``the gateway``."""
        return holder(self.scope, self.scope_id)


def holder(scope: str, scope_id: str) -> str:
    return "the gateway" if scope == "global" else f"{scope} {scope_id}"
