"""Argon2id password hashes, and a dummy one so unknown users cost the same as wrong passwords."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from gateway_auth_local.config import Argon2Parameters

MAX_PASSWORD_BYTES = 1024


class Passwords:
    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        # A real hash of a random password: verifying against it takes as long as a real check.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; with no stored hash, spend the same time on
        the dummy and answer no."""
        try:
            matched = self._hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    async def verify_in_thread(self, stored: str | None, password: str) -> bool:
        """Argon2 is deliberately slow; keep it off the event loop."""
        return await asyncio.to_thread(self.verify, stored, password)

    async def hash_in_thread(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)
