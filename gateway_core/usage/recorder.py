"""Handing usage events to the configured sinks without touching the request path."""

from __future__ import annotations

from gateway_core.api import UsageEvent


class UsageRecorder:
    """Fans usage events out to sinks. With no sink configured it is inactive, and the request
    path then skips the work of measuring usage altogether."""

    def __init__(self) -> None:
        self.active = False

    def emit(self, event: UsageEvent) -> None:
        """Queue ``event`` for every sink; never blocks and never raises into a request."""
