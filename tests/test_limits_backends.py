"""One suite, both limits backends: in-process and a real Redis give every operation the same
meaning. Time is a fake clock handed to both (Redis otherwise uses its own ``TIME``)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from gateway_core.limits.backend import LimitBackend, Settlement, member
from gateway_core.limits.redis_backend import RedisLimits
from tests.limits_support import FakeClock, backend_factory, pool, run_with, total, window


@pytest.fixture(params=["in_process", "redis"])
def factory(request):
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    return backend_factory(request.param, url)


def test_a_window_admits_up_to_its_limit_and_says_when_room_returns(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        rpm = window("w", limit=3)
        for index in range(3):
            verdict = await backend.admit(f"r{index}", [rpm])
            assert verdict.admitted
            assert verdict.states[0].remaining == 2 - index
            assert verdict.states[0].reset_ms == 60_000 - index * 1000
            clock.advance(1000)
        refused = await backend.admit("r3", [rpm])
        assert not refused.admitted and refused.refused == 0 and refused.used == 3
        assert refused.retry_ms == 60_000 - 3000  # when the first request leaves the window
        clock.advance(refused.retry_ms - 1)
        assert not (await backend.admit("r4", [rpm])).admitted
        clock.advance(1)
        assert (await backend.admit("r5", [rpm])).admitted

    run_with(factory, check)


def test_a_request_larger_than_the_limit_can_never_fit(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        refused = await backend.admit("big", [window("tpm", limit=100, amount=101)])
        assert not refused.admitted and refused.retry_ms == -1

    run_with(factory, check)


def test_all_counters_or_none_are_charged(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        key, team = window("key", limit=5), window("team", limit=1)
        assert (await backend.admit("a", [key, team])).admitted
        refused = await backend.admit("b", [key, team])
        assert not refused.admitted and refused.refused == 1
        assert await total(backend, "key") == 1, "the refused request left no trace"

    run_with(factory, check)


def test_window_reconciliation_replaces_refunds_and_charges_late_excess(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        reserved = window("tpm", limit=2000, amount=400)
        for token in ("a", "b", "c"):
            assert (await backend.admit(token, [reserved])).admitted
        await backend.settle("a", [Settlement(reserved, 400, 150)])
        await backend.settle("b", [Settlement(reserved, 400, 0)])
        assert await total(backend, "tpm") == 550
        clock.advance(60_000)  # "c" left the window before its usage was known
        await backend.settle("c", [Settlement(reserved, 400, 900)])
        assert (await backend.admit("d", [window("tpm", limit=1000, amount=0)])).admitted
        assert await total(backend, "tpm") == 500, "only the excess over the reservation counts"

    run_with(factory, check)


def test_pool_holds_until_settled_and_keeps_what_settlement_says(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        budget = pool("budget", limit=1000, amount=400)
        assert (await backend.admit("a", [budget])).admitted
        assert (await backend.admit("b", [budget])).admitted
        refused = await backend.admit("c", [budget])
        assert not refused.admitted and refused.used == 800
        await backend.settle("a", [Settlement(budget, 400, 100)])
        verdict = await backend.admit("c", [budget])
        assert verdict.admitted and verdict.states[0].remaining == 100
        assert await total(backend, "budget") == 900

    run_with(factory, check)


def test_leases_expire_unless_renewed(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        slots = pool("parallel", limit=2, lease_ms=10_000)
        assert (await backend.admit("alive", [slots])).admitted
        assert (await backend.admit("crashed", [slots])).admitted
        assert not (await backend.admit("waiting", [slots])).admitted
        clock.advance(8_000)
        await backend.renew([("parallel", member("alive", 1))], 10_000)
        clock.advance(2_000)  # the crashed holder's lease has run out, the renewed one has not
        assert (await backend.admit("next", [slots])).admitted
        assert not (await backend.admit("again", [slots])).admitted
        clock.advance(10_000)  # both the renewed and the new lease have lapsed now
        await backend.renew([("parallel", member("alive", 1))], 10_000)  # too late: stays gone
        assert (await backend.admit("x", [slots])).admitted
        assert (await backend.admit("y", [slots])).admitted

    run_with(factory, check)


def test_a_soft_threshold_is_reported_once(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        budget = pool("soft", limit=100, amount=30, soft=50)
        crossings = []
        for token in ("a", "b", "c"):
            assert (await backend.admit(token, [budget])).admitted
            crossings += await backend.settle(token, [Settlement(budget, 30, 30)])
        assert [(c.index, c.used) for c in crossings] == [(0, 60)]

    run_with(factory, check)


def test_concurrent_admissions_never_exceed_the_limit(factory) -> None:
    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        rpm, slots = window("conc-w", limit=10), pool("conc-p", limit=7)
        verdicts = await asyncio.gather(*(backend.admit(f"r{i}", [rpm]) for i in range(40)))
        assert sum(v.admitted for v in verdicts) == 10
        verdicts = await asyncio.gather(*(backend.admit(f"p{i}", [slots]) for i in range(40)))
        assert sum(v.admitted for v in verdicts) == 7

    run_with(factory, check)


def test_admission_is_one_round_trip(redis_server) -> None:
    """All limits of a request, whatever their number, cost one command on one connection."""
    sent: list[bytes] = []

    class CountingConnection(redis.Connection):
        async def send_packed_command(self, command, check_health=True):
            chunks = [command] if isinstance(command, bytes | str) else list(command)
            sent.append(b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks))
            return await super().send_packed_command(command, check_health)

    async def main() -> None:
        connections = redis.ConnectionPool(
            host="127.0.0.1", port=redis_server.port, connection_class=CountingConnection
        )
        client = redis.Redis(connection_pool=connections)
        backend = RedisLimits(client, prefix="{t-roundtrip}:", clock=FakeClock())
        await backend.start()
        checks = [window(f"rt{i}", limit=100) for i in range(4)] + [pool("rt-pool", limit=100)]
        sent.clear()
        for index in range(25):
            assert (await backend.admit(f"r{index}", checks)).admitted
        await client.aclose()
        assert len(sent) == 25
        assert all(b"EVALSHA" in command for command in sent)

    asyncio.run(main())


def test_zero_and_huge_amounts_are_exact(factory) -> None:
    """An unpriced request reserves nothing; a large budget counts to the last millionth."""

    async def check(backend: LimitBackend, clock: FakeClock) -> None:
        huge = 10**15 + 1
        for name, kind in (("zw", window), ("zp", pool)):
            free, big = (
                kind(name, limit=2 * huge, amount=0),
                kind(name, limit=2 * huge, amount=huge),
            )
            assert (await backend.admit("free", [free])).admitted
            assert (await backend.admit("big", [big])).admitted
            await backend.settle("free", [Settlement(free, 0, 0)])
            await backend.settle("big", [Settlement(big, huge, huge - 1)])
            assert await total(backend, name) == huge - 1

    run_with(factory, check)
