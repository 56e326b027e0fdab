"""What a limits backend does: check-and-reserve many counters at once, settle, renew leases.

Two kinds of counter cover every strategy:

* a **window** keeps ``(time, amount)`` entries; what counts is the sum of the entries younger
  than the window. An entry is reconciled in place at settlement (replaced by the real amount);
  if it already left the window, only an excess is added, counted from then.
* a **pool** keeps ``used`` (what settled requests kept in the counter's period) and holds
  (leases with an expiry, one per request in flight). What counts is ``used`` plus live holds.
  Settlement removes the hold and adds the kept amount to ``used``.

``admit`` checks every counter of a request first and changes them only if all have room: one
atomic step, so two instances can never both take the last unit. Amounts are integers in the
strategy's unit (requests, tokens, millionths of a dollar).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    WINDOW = "w"
    POOL = "p"


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a request is charged against.

    ``span_ms`` is the window's length, or a hold's lease time. ``ttl_ms`` is how long the
    counter may live after its last change (0: until deleted); ``soft`` is a pool's alert
    threshold (0: none), crossed at most once per counter.
    """

    name: str
    kind: Kind
    limit: int
    amount: int
    span_ms: int
    ttl_ms: int
    soft: int = 0


@dataclass(frozen=True, slots=True)
class CounterState:
    """A counter right after admission: units left, and ms until the oldest entry leaves."""

    remaining: int
    reset_ms: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """``admitted`` or else ``refused`` (index into the checks) with what it counted."""

    admitted: bool
    states: tuple[CounterState, ...] = ()
    refused: int = -1
    used: int = 0
    #: Milliseconds until the refused request would fit; -1 when unknown or never.
    retry_ms: int = -1


@dataclass(frozen=True, slots=True)
class Settlement:
    """Replace ``check``'s reservation of ``reserved`` by ``final``."""

    check: Check
    reserved: int
    final: int


@dataclass(frozen=True, slots=True)
class Crossing:
    """A pool's soft threshold was crossed by this settlement (reported once per counter)."""

    index: int
    used: int


def member(token: str, amount: int) -> str:
    """A request's entry in a counter: its token and the amount, so both backends can find
    and reconcile it without a second structure."""
    return f"{token}|{amount}"


class LimitBackend:
    """Storage of the counters. Implementations must give every operation the meaning above,
    atomically with respect to every other caller of the same storage."""

    #: Whether other processes share the counters (else limits are per process).
    distributed: bool = False

    async def start(self) -> None:
        """Prepare (load scripts) before the first request."""

    async def close(self) -> None:
        """Release what ``start`` acquired."""

    async def admit(self, token: str, checks: list[Check]) -> Verdict:
        raise NotImplementedError

    async def settle(self, token: str, settlements: list[Settlement]) -> list[Crossing]:
        raise NotImplementedError

    async def renew(self, holds: list[tuple[str, str]], lease_ms: int) -> None:
        """Extend the leases ``(counter name, member)`` to ``lease_ms`` from now; leases that
        already expired stay expired."""
        raise NotImplementedError
