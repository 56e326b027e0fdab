"""Choosing the backend from settings."""

from __future__ import annotations

from gateway_core.config import RedisSettings
from gateway_core.shared.base import SharedState
from gateway_core.shared.memory import InProcessState
from gateway_core.shared.redis_backend import RedisState


def build_shared_state(settings: RedisSettings) -> SharedState:
    return RedisState(settings) if settings.enabled else InProcessState()
