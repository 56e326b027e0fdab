"""Failed sign-ins counted per account and per client address, in shared state.

Counting happens for unknown accounts too, so the throttle says nothing about which accounts
exist. Both counters live for the configured window from the first failure; a successful
sign-in clears the account's counter (not the address's: one right password must not reset an
attacker's budget for every other account).
"""

from __future__ import annotations

import hashlib

from gateway_core.errors import RateLimited
from gateway_core.shared import SharedState

_ACCOUNT = "admin:login:failures:account:"
_ADDRESS = "admin:login:failures:address:"


def _account_key(email: str) -> str:
    return _ACCOUNT + hashlib.sha256(email.encode()).hexdigest()


def _address_key(address: str) -> str:
    return _ADDRESS + address


class LoginThrottle:
    def __init__(
        self, shared: SharedState, *, per_account: int, per_address: int, window: float
    ) -> None:
        self.shared = shared
        self.per_account = per_account
        self.per_address = per_address
        self.window = window

    async def check(self, email: str, address: str) -> None:
        """Raise 429 when either counter has reached its limit."""
        account = await self.shared.get(_account_key(email))
        by_address = await self.shared.get(_address_key(address))
        if (account is not None and int(account) >= self.per_account) or (
            by_address is not None and int(by_address) >= self.per_address
        ):
            raise RateLimited(
                "Too many failed sign-in attempts; try again later.",
                code="too_many_sign_in_attempts",
                retry_after=self.window,
            )

    async def failed(self, email: str, address: str) -> None:
        await self.shared.incr(_account_key(email), self.window)
        await self.shared.incr(_address_key(address), self.window)

    async def succeeded(self, email: str) -> None:
        await self.shared.delete(_account_key(email))
