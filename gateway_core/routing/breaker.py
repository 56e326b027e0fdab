"""A circuit breaker per deployment: closed, open, half-open with a single probe.

Time is passed in (monotonic seconds) rather than read, so the state machine is a pure function
of its inputs and tests drive it with a fake clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway_core.config import BreakerSettings

WINDOW_BUCKETS = 10


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Bucket:
    epoch: int = -1
    successes: int = 0
    failures: int = 0


class CircuitBreaker:
    """Opens on N consecutive failures, or on a failure rate over a sliding window.

    While open, ``acquire`` refuses until the cooldown ends; then exactly one caller gets the
    half-open probe. The probe's success closes the circuit, its failure opens it again. An
    upstream ``Retry-After`` opens the circuit for at least that long.
    """

    __slots__ = (
        "_bucket_width",
        "_buckets",
        "consecutive_failures",
        "open_until",
        "probe_in_flight",
        "rate_limited",
        "settings",
        "state",
        "times_opened",
    )

    def __init__(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.open_until = 0.0
        self.probe_in_flight = False
        self.rate_limited = False
        self.times_opened = 0
        self._bucket_width = settings.window / WINDOW_BUCKETS
        self._buckets = [_Bucket() for _ in range(WINDOW_BUCKETS)]

    # -- asking -------------------------------------------------------------------------

    def available(self, now: float) -> bool:
        """Whether a request could be sent now, without claiming anything."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return now >= self.open_until
        return not self.probe_in_flight

    def acquire(self, now: float) -> bool:
        """Claim the right to send one request; in half-open state only one caller gets it."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now < self.open_until:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probe_in_flight = False
        if self.probe_in_flight:
            return False
        self.probe_in_flight = True
        return True

    def retry_in(self, now: float) -> float:
        """Seconds until the circuit lets a probe through (0 when it already would)."""
        if self.state is BreakerState.OPEN:
            return max(self.open_until - now, 0.0)
        return 0.0

    # -- telling ------------------------------------------------------------------------

    def record_success(self, now: float) -> None:
        self._bucket(now).successes += 1
        self.consecutive_failures = 0
        if self.state is BreakerState.HALF_OPEN:
            self._close()

    def record_failure(self, now: float, retry_after: float | None = None) -> None:
        self._bucket(now).failures += 1
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED
            and (retry_after is not None or self._should_open(now))
        ):
            self._open(now, retry_after)

    def release(self) -> None:
        """The probe ended without an outcome (the client left): let another caller probe."""
        if self.state is BreakerState.HALF_OPEN:
            self.probe_in_flight = False

    # -- internals ----------------------------------------------------------------------

    def _should_open(self, now: float) -> bool:
        if self.consecutive_failures >= self.settings.consecutive_failures:
            return True
        successes, failures = self.window_counts(now)
        total = successes + failures
        return total >= self.settings.min_requests and failures / total >= (
            self.settings.failure_rate
        )

    def window_counts(self, now: float) -> tuple[int, int]:
        """(successes, failures) recorded within the last ``window`` seconds."""
        current = int(now // self._bucket_width)
        oldest = current - WINDOW_BUCKETS + 1
        successes = failures = 0
        for bucket in self._buckets:
            if bucket.epoch >= oldest:
                successes += bucket.successes
                failures += bucket.failures
        return successes, failures

    def _bucket(self, now: float) -> _Bucket:
        epoch = int(now // self._bucket_width)
        bucket = self._buckets[epoch % WINDOW_BUCKETS]
        if bucket.epoch != epoch:
            bucket.epoch, bucket.successes, bucket.failures = epoch, 0, 0
        return bucket

    def _open(self, now: float, retry_after: float | None) -> None:
        cooldown = self.settings.cooldown
        if retry_after is not None:
            cooldown = (
                max(retry_after, 0.0)
                if self.state is BreakerState.CLOSED
                else max(cooldown, retry_after)
            )
        self.state = BreakerState.OPEN
        self.open_until = now + cooldown
        self.probe_in_flight = False
        self.rate_limited = retry_after is not None
        self.times_opened += 1

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self.probe_in_flight = False
        self.consecutive_failures = 0
        for bucket in self._buckets:
            bucket.epoch = -1
