"""Who each admin is right now: the database, read again after a few seconds per worker.

The session auth method takes the role, team and active flag from here rather than from the
token, so a change made through the admin API applies within :data:`USER_CACHE_TTL`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway_core.tenancy import repository as users

USER_CACHE_TTL = 5.0
USER_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: str
    email: str
    role: str
    team_id: str | None
    is_active: bool


class UserCache:
    """Who each user is right now, re-read from the database after ``ttl`` seconds."""

    def __init__(self, ttl: float = USER_CACHE_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, UserSnapshot | None]] = {}

    async def get(self, user_id: str) -> UserSnapshot | None:
        now = time.monotonic()
        cached = self._entries.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await users.find_user(user_id)
        snapshot = None
        if user is not None:
            snapshot = UserSnapshot(
                user.id,
                user.email,
                user.role,
                user.team_id,  # type: ignore[attr-defined]
                user.is_active,
            )
        if len(self._entries) >= USER_CACHE_LIMIT:
            self._entries.clear()
        self._entries[user_id] = (now + self.ttl, snapshot)
        return snapshot
