"""The in-process limits backend: the Redis scripts' semantics, in one process's memory.

Every operation runs without awaiting, so on one event loop it is as atomic as a Lua script is
on Redis. With several worker processes and no Redis, each worker counts for itself.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable

from gateway_core.limits.backend import (
    Check,
    CounterState,
    Crossing,
    Kind,
    LimitBackend,
    Settlement,
    Verdict,
    member,
)

MAX_COUNTERS = 200_000
_AFTER_EVERY_MEMBER = "\U0010ffff"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def amount_of(entry: str) -> int:
    return int(entry.rpartition("|")[2])


class _Window:
    __slots__ = ("entries", "expires_at", "scores", "total")

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = []  # sorted by time
        self.scores: dict[str, int] = {}
        self.total = 0
        self.expires_at = 0

    def prune(self, cutoff: int) -> None:
        """Forget entries at or before ``cutoff``."""
        entries = self.entries
        if not entries or entries[0][0] > cutoff:
            return
        end = bisect_right(entries, (cutoff, _AFTER_EVERY_MEMBER))
        for _, gone in entries[:end]:
            self.total -= amount_of(gone)
            del self.scores[gone]
        del entries[:end]

    def add(self, at: int, entry: str) -> None:
        insort(self.entries, (at, entry))
        self.scores[entry] = at
        self.total += amount_of(entry)

    def remove(self, entry: str) -> int | None:
        at = self.scores.pop(entry, None)
        if at is None:
            return None
        index = bisect_left(self.entries, (at, entry))
        del self.entries[index]
        self.total -= amount_of(entry)
        return at

    def retry_ms(self, now: int, span: int, limit: int, amount: int) -> int:
        """How long until ``amount`` more fits, as entries leave the window; -1: never."""
        if amount > limit:
            return -1
        freed = 0
        for at, entry in self.entries:
            freed += amount_of(entry)
            if self.total - freed + amount <= limit:
                return max(at + span - now, 0)
        return 0


class _Pool:
    __slots__ = ("alerted", "expires_at", "held", "holds", "next_expiry", "used")

    def __init__(self) -> None:
        self.holds: dict[str, int] = {}  # member -> lease expiry
        self.held = 0
        self.used = 0
        self.alerted = False
        self.next_expiry = 0
        self.expires_at = 0

    def prune(self, now: int) -> None:
        """Drop expired leases (a crashed holder's)."""
        if not self.holds or now < self.next_expiry:
            return
        live: dict[str, int] = {}
        for entry, expiry in self.holds.items():
            if expiry > now:
                live[entry] = expiry
            else:
                self.held -= amount_of(entry)
        self.holds = live
        self.next_expiry = min(live.values(), default=0)

    def hold(self, entry: str, expiry: int) -> None:
        self.holds[entry] = expiry
        self.held += amount_of(entry)
        self.next_expiry = min(self.next_expiry or expiry, expiry)

    def release(self, entry: str) -> bool:
        if self.holds.pop(entry, None) is None:
            return False
        self.held -= amount_of(entry)
        return True


class InProcessLimits(LimitBackend):
    distributed = False

    def __init__(self, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.clock = clock
        self._counters: dict[str, _Window | _Pool] = {}

    # -- counters ---------------------------------------------------------------------------

    def _get(self, check: Check, now: int) -> _Window | _Pool:
        counter = self._counters.get(check.name)
        if counter is not None and (counter.expires_at == 0 or counter.expires_at > now):
            return counter
        if len(self._counters) >= MAX_COUNTERS:
            self._sweep(now)
        counter = _Window() if check.kind is Kind.WINDOW else _Pool()
        self._counters[check.name] = counter
        return counter

    def _sweep(self, now: int) -> None:
        for name in [n for n, c in self._counters.items() if 0 < c.expires_at <= now]:
            del self._counters[name]

    @staticmethod
    def _touch(counter: _Window | _Pool, check: Check, now: int) -> None:
        counter.expires_at = now + check.ttl_ms if check.ttl_ms > 0 else 0

    # -- operations -------------------------------------------------------------------------

    async def admit(self, token: str, checks: list[Check]) -> Verdict:
        now = self.clock()
        counters = [self._get(check, now) for check in checks]
        for index, (check, counter) in enumerate(zip(checks, counters, strict=True)):
            if isinstance(counter, _Window):
                counter.prune(now - check.span_ms)
                current = counter.total
            else:
                counter.prune(now)
                current = counter.used + counter.held
            if current + check.amount > check.limit:
                retry = (
                    counter.retry_ms(now, check.span_ms, check.limit, check.amount)
                    if isinstance(counter, _Window)
                    else -1
                )
                return Verdict(False, refused=index, used=current, retry_ms=retry)
        states = []
        for check, counter in zip(checks, counters, strict=True):
            entry = member(token, check.amount)
            if isinstance(counter, _Window):
                counter.add(now, entry)
                remaining = check.limit - counter.total
                reset = counter.entries[0][0] + check.span_ms - now
            else:
                counter.hold(entry, now + check.span_ms)
                remaining, reset = check.limit - counter.used - counter.held, 0
            self._touch(counter, check, now)
            states.append(CounterState(remaining, reset))
        return Verdict(True, tuple(states))

    async def settle(self, token: str, settlements: list[Settlement]) -> list[Crossing]:
        now = self.clock()
        crossings = []
        for index, settlement in enumerate(settlements):
            check, reserved, final = settlement.check, settlement.reserved, settlement.final
            counter = self._get(check, now)
            if isinstance(counter, _Window):
                at = counter.remove(member(token, reserved))
                if at is not None and at > now - check.span_ms:
                    if final > 0:
                        counter.add(at, member(token, final))
                elif final > reserved:  # it left the window: usage above it counts from now
                    counter.add(now, member(token, final - reserved))
            else:
                counter.release(member(token, reserved))
                if final > 0:
                    counter.used += final
                    if check.soft > 0 and counter.used >= check.soft and not counter.alerted:
                        counter.alerted = True
                        crossings.append(Crossing(index, counter.used))
            self._touch(counter, check, now)
        return crossings

    async def renew(self, holds: list[tuple[str, str]], lease_ms: int) -> None:
        now = self.clock()
        for name, entry in holds:
            counter = self._counters.get(name)
            if isinstance(counter, _Pool) and entry in counter.holds:
                counter.prune(now)
                if entry in counter.holds:
                    counter.holds[entry] = now + lease_ms
                    # next_expiry stays a lower bound: the next prune recomputes it.

    # -- inspection (tests, admin) ------------------------------------------------------------

    def total(self, name: str) -> int:
        """What a counter holds right now (window sum, or pool used plus held)."""
        counter = self._counters.get(name)
        if counter is None:
            return 0
        if isinstance(counter, _Window):
            return counter.total
        return counter.used + counter.held
