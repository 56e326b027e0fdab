"""Counters of the limits engine, read by ``/metrics`` when Prometheus scrapes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class LimitStats:
    """What happened in this worker since it started.

    ``refused`` and ``alerts`` are keyed by (strategy, scope); ``backend_errors`` by operation
    (``admit``, ``acquire``, ``settle``, ``renew``).
    """

    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    backend_errors: Counter[str] = field(default_factory=Counter)
    #: Requests let through unchecked because the backend failed (``failure_mode: open``).
    failed_open: int = 0
    #: Requests refused with 503 because the backend failed (``failure_mode: closed``).
    failed_closed: int = 0
