"""Argon2id hashing and the sign-in throttle, without a server."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
from gateway_auth_local.config import Argon2Parameters
from gateway_auth_local.hashing import Passwords
from gateway_auth_local.throttle import LoginThrottle
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.errors import RateLimited
from gateway_core.shared import InProcessState

FAST = Argon2Parameters(time_cost=1, memory_cost=1024, parallelism=1)


@settings(max_examples=25, deadline=None)
@given(password=st.text(min_size=1, max_size=64), other=st.text(min_size=1, max_size=64))
def test_a_hash_accepts_its_password_and_nothing_else(password: str, other: str) -> None:
    passwords = Passwords(FAST)
    stored = passwords.hash(password)
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert passwords.verify(stored, password)
    assert passwords.verify(stored, other) is (other == password)


def test_no_stored_hash_never_verifies() -> None:
    passwords = Passwords(FAST)
    assert not passwords.verify(None, "anything")
    assert not passwords.verify("not-a-hash", "anything")


def test_changed_parameters_ask_for_a_rehash() -> None:
    old = Passwords(FAST).hash("correct horse battery")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_cost=2048, parallelism=1))
    assert stronger.needs_rehash(old) and stronger.verify(old, "correct horse battery")
    assert not stronger.needs_rehash(stronger.hash("correct horse battery"))


def test_unknown_users_cost_as_much_as_wrong_passwords() -> None:
    """The dummy hash makes 'no such user' take the time of a real check."""
    passwords = Passwords(Argon2Parameters(time_cost=2, memory_cost=16384, parallelism=1))
    stored = passwords.hash("the real password")

    def median(stored_hash: str | None) -> float:
        samples = []
        for _ in range(7):
            started = time.perf_counter()
            passwords.verify(stored_hash, "a wrong password")
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    known, unknown = median(stored), median(None)
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_throttle_counts_accounts_and_addresses_separately() -> None:
    async def scenario() -> None:
        throttle = LoginThrottle(InProcessState(), per_account=2, per_address=3, window=60)
        for _ in range(2):
            await throttle.check("a@x.com", "10.0.0.1")
            await throttle.failed("a@x.com", "10.0.0.1")
        with pytest.raises(RateLimited) as limited:
            await throttle.check("a@x.com", "10.0.0.2")  # the account, from anywhere
        assert limited.value.headers["Retry-After"] == "60"
        await throttle.check("b@x.com", "10.0.0.1")  # the address still has one left
        await throttle.failed("b@x.com", "10.0.0.1")
        with pytest.raises(RateLimited):
            await throttle.check("c@x.com", "10.0.0.1")
        await throttle.succeeded("a@x.com")
        await throttle.check("a@x.com", "10.0.0.2")

    asyncio.run(scenario())
