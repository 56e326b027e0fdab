"""Shared state within one process."""

from __future__ import annotations

from gateway_core.shared.base import SharedState


class InProcessState(SharedState):
    distributed = False

    async def publish(self, channel: str, message: str) -> None:
        self._deliver(channel, message)
