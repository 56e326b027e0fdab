"""Refresh tokens: opaque, single use, grouped in families that die together.

A sign-in opens a *family*; every refresh spends the presented token and issues the next one of
the same family. Spending is an atomic claim in shared state (``set(..., only_if_absent=True)``),
so of two requests presenting the same token at most one succeeds. A token presented after it
was spent means it was copied: the whole family is revoked, the thief's and the owner's tokens
alike. A family lives at most the refresh TTL from sign-in; rotation does not extend it.

Only a hash of each token is stored, so reading Redis gives nobody a session.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

from gateway_core.shared import SharedState

TOKEN_PREFIX = "ogr_"  # noqa: S105 (a marker, not a secret)
_RECORD = "admin:refresh:token:"
_SPENT = "admin:refresh:spent:"
_REVOKED = "admin:refresh:revoked:"


class RefreshRejected(Exception):
    """The refresh token cannot be used; ``reason`` is for logs, never for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    family: str
    user_id: str
    method: str
    family_expires_at: float

    def remaining(self) -> float:
        return self.family_expires_at - time.time()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokenStore:
    def __init__(self, shared: SharedState, ttl: float) -> None:
        self.shared = shared
        self.ttl = ttl

    async def open_family(self, user_id: str, method: str) -> tuple[str, RefreshRecord]:
        """Start a new session: a new family and its first token."""
        record = RefreshRecord(
            family=secrets.token_urlsafe(18),
            user_id=user_id,
            method=method,
            family_expires_at=time.time() + self.ttl,
        )
        return await self.issue(record), record

    async def issue(self, record: RefreshRecord) -> str:
        """The next token of ``record``'s family, living until the family expires."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        remaining = record.remaining()
        if remaining <= 0:
            raise RefreshRejected("family expired")
        await self.shared.set(_RECORD + _digest(token), json.dumps(asdict(record)), remaining)
        return token

    async def spend(self, token: str) -> RefreshRecord:
        """Use ``token`` up. Raises :class:`RefreshRejected`; a second use revokes the family."""
        digest = _digest(token)
        record = await self._record(digest)
        if record is None:
            raise RefreshRejected("unknown or expired refresh token")
        if await self.family_revoked(record.family):
            raise RefreshRejected("the session was revoked")
        remaining = record.remaining()
        if remaining <= 0:
            raise RefreshRejected("family expired")
        claimed = await self.shared.set(_SPENT + digest, "1", remaining, only_if_absent=True)
        if not claimed:
            await self.revoke_family(record)
            raise RefreshRejected("refresh token reused; the session was revoked")
        return record

    async def revoke(self, token: str) -> RefreshRecord | None:
        """End the session ``token`` belongs to (sign-out); unknown tokens are ignored."""
        digest = _digest(token)
        record = await self._record(digest)
        if record is not None:
            await self.revoke_family(record)
            await self.shared.delete(_RECORD + digest)
        return record

    async def revoke_family(self, record: RefreshRecord) -> None:
        await self.shared.set(_REVOKED + record.family, "1", max(record.remaining(), 1.0))

    async def family_revoked(self, family: str) -> bool:
        return await self.shared.get(_REVOKED + family) is not None

    async def _record(self, digest: str) -> RefreshRecord | None:
        raw = await self.shared.get(_RECORD + digest)
        if raw is None:
            return None
        return RefreshRecord(**json.loads(raw))
