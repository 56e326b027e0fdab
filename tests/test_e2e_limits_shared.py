"""Exact limits across instances: two gateway processes with two workers each, one real Redis.

Counts are checked where they cannot be fudged: by the clients (how many got through) and by
the upstream (how many requests it had in flight at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
import yaml

from gateway_core.testing import GatewayProcess
from tests.conftest import MASTER_KEY, MockUpstreamProcess, deployment

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
RPM = 25
PARALLEL = 3
DEPLOYMENT_PARALLEL = 2
PRICE = {"input": 1, "output": 100}  # USD per million tokens
BUDGET = Decimal("0.012")  # about ten of the mock's answers (~$0.0012 each)
_databases = itertools.count(1)


def fresh_database(redis_url: str) -> str:
    """A Redis database of its own (emptied), so counters of other tests cannot interfere."""
    url = f"{redis_url.rsplit('/', 1)[0]}/{next(_databases)}"
    redis.Redis.from_url(url).flushdb()
    return url


def message(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def fire(bases: list[str], bodies: list[dict[str, Any]], retry_429: bool = False):
    """Send every body at once, alternating between gateways; with ``retry_429`` a refused
    request is sent again (after a short pause) until it gets through."""
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=500, max_keepalive_connections=500)
    ) as client:

        async def one(index: int, body: dict[str, Any]) -> httpx.Response:
            while True:
                response = await client.post(
                    f"{bases[index % len(bases)]}/v1/chat/completions", json=body, headers=AUTH
                )
                if not (retry_429 and response.status_code == 429):
                    return response
                await asyncio.sleep(0.05)

        return await asyncio.gather(*(one(i, body) for i, body in enumerate(bodies)))


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, MockUpstreamProcess]]:
    started = {name: MockUpstreamProcess() for name in ("fast", "slow", "slow_dep")}
    yield started
    for upstream in started.values():
        upstream.stop()


@pytest.fixture(scope="module")
def gateways(upstreams, redis_server, tmp_path_factory) -> Iterator[list[GatewayProcess]]:
    fast, slow, slow_dep = upstreams["fast"], upstreams["slow"], upstreams["slow_dep"]
    config = {
        "auth": {"master_key": MASTER_KEY},
        "redis": {"url": fresh_database(redis_server.url)},
        # Closed, so that a backend hiccup would show up as a failure rather than a leak.
        "limits": {
            "failure_mode": "closed",
            "timeout": 5,
            "rules": [
                {"strategy": "rpm", "scope": "global", "limit": RPM, "models": ["counted"]},
                {"strategy": "parallel", "scope": "global", "limit": PARALLEL, "models": ["slow"]},
                {
                    "strategy": "budget",
                    "scope": "global",
                    "limit": str(BUDGET),
                    "period": "total",
                    "models": ["priced"],
                },
            ],
        },
        "models": [
            {"name": "counted", "deployments": [deployment(fast.base_url())]},
            {"name": "slow", "deployments": [deployment(slow.base_url(latency=0.3))]},
            {
                "name": "slow-dep",
                "deployments": [
                    deployment(
                        slow_dep.base_url(latency=0.3), limits={"parallel": DEPLOYMENT_PARALLEL}
                    )
                ],
            },
            {
                "name": "priced",
                "deployments": [deployment(fast.base_url(latency=0.2), price=PRICE)],
            },
        ],
    }
    directory = tmp_path_factory.mktemp("limits-shared")
    started = [GatewayProcess(config, directory, workers=2) for _ in range(2)]
    yield started
    for gateway in started:
        gateway.stop()


def test_a_global_rpm_admits_exactly_its_limit_across_instances(gateways) -> None:
    bodies = [{"model": "counted", "messages": message(f"q{i}")} for i in range(4 * RPM)]
    responses = asyncio.run(fire([g.base_url for g in gateways], bodies))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == RPM, statuses
    assert statuses.count(429) == 3 * RPM
    refusal = next(r for r in responses if r.status_code == 429)
    assert refusal.json()["error"]["code"] == "rate_limit_exceeded"
    assert "Rate limit reached for the gateway" in refusal.json()["error"]["message"]
    assert int(refusal.headers["retry-after"]) >= 1


def test_never_more_requests_in_flight_than_the_parallel_limits(gateways, upstreams) -> None:
    bases = [g.base_url for g in gateways]
    slow, slow_dep = upstreams["slow"], upstreams["slow_dep"]
    slow.reset()
    slow_dep.reset()

    async def both():
        return await asyncio.gather(
            fire(bases, [{"model": "slow", "messages": message()}] * 15, retry_429=True),
            fire(bases, [{"model": "slow-dep", "messages": message()}] * 10, retry_429=True),
        )

    global_limited, deployment_limited = asyncio.run(both())
    assert all(r.status_code == 200 for r in global_limited + deployment_limited)
    assert slow.stats()["requests"] == 15 and slow_dep.stats()["requests"] == 10
    assert slow.stats()["peak_in_flight"] == PARALLEL
    assert slow_dep.stats()["peak_in_flight"] == DEPLOYMENT_PARALLEL


def test_concurrent_requests_never_overspend_a_budget(gateways, redis_server) -> None:
    bases = [g.base_url for g in gateways]
    body = {"model": "priced", "messages": message(), "max_tokens": 20}
    responses = list(asyncio.run(fire(bases, [body] * 50)))
    assert {r.status_code for r in responses} == {200, 429}
    refusal = next(r for r in responses if r.status_code == 429).json()["error"]
    assert refusal["code"] == "insufficient_quota" and refusal["type"] == "insufficient_quota"
    # Spend the rest one by one, until the budget cannot cover another worst case.
    for _ in range(20):
        (response,) = asyncio.run(fire(bases, [body]))
        responses.append(response)
        if response.status_code == 429:
            break
    spent = sum(
        (Decimal(u["prompt_tokens"]) * PRICE["input"] + Decimal(u["completion_tokens"]) * 100)
        / 1_000_000
        for u in (r.json()["usage"] for r in responses if r.status_code == 200)
    )
    assert BUDGET - Decimal("0.0025") < spent <= BUDGET
    config = yaml.safe_load(gateways[0].config_path.read_text())
    counter = redis.Redis.from_url(config["redis"]["url"])
    (name,) = counter.keys("{gwlim}:budget:*:t")
    assert int(counter.hget(name, "used")) / 1_000_000 == pytest.approx(float(spent), abs=1e-5)
    assert int(counter.hget(name, "held")) == 0, "every reservation was settled"


def test_a_killed_instance_leaks_no_leases(redis_server, spawn_upstream, tmp_path) -> None:
    upstream = spawn_upstream()
    config = {
        "auth": {"master_key": MASTER_KEY},
        "redis": {"url": fresh_database(redis_server.url)},
        "limits": {
            "lease_ttl": 1,
            "rules": [{"strategy": "parallel", "scope": "global", "limit": 2}],
        },
        "models": [{"name": "hold", "deployments": [deployment(upstream.base_url(latency=5))]}],
    }
    doomed, survivor = (GatewayProcess(config, tmp_path) for _ in range(2))
    try:

        def hold() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the instance is killed under it
                httpx.post(
                    f"{doomed.base_url}/v1/chat/completions",
                    json={"model": "hold", "messages": message()},
                    headers=AUTH,
                    timeout=60,
                )

        for _ in range(2):
            threading.Thread(target=hold, daemon=True).start()
        wait_until(lambda: upstream.stats()["in_flight"] == 2)
        quick = {"model": "hold", "messages": message(), "mock": {"latency": 0}}

        def ask() -> int:
            return httpx.post(
                f"{survivor.base_url}/v1/chat/completions", json=quick, headers=AUTH, timeout=10
            ).status_code

        assert ask() == 429, "both slots are held by the other instance"
        time.sleep(2.0)  # twice the lease time: a live instance renews its leases
        assert ask() == 429, "the leases of requests still in flight lapsed"
        os.killpg(doomed.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: ask() == 200, timeout=10)
        assert time.monotonic() - killed_at < 5  # a lease lives one second unless renewed
    finally:
        doomed.stop()
        survivor.stop()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
