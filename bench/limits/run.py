"""What the limits engine costs per request, in-process and on Redis.

Run with the project's interpreter: ``.venv/bin/python bench/limits/run.py`` (``--quick`` for a
smoke run). It starts its own ``redis-server`` on loopback (see ``gateway_core.testservers``),
builds a real :class:`~gateway_core.gateway.Gateway` from a config per scenario, and drives the
engine directly (admission, then settlement with real usage and cost) without HTTP or upstreams,
so that the numbers are the limiter's alone:

* ``sequential``: one request at a time; mean and p99 microseconds per request;
* ``concurrent``: 64 requests in flight on one event loop; requests per second;
* Redis round trips per request, counted on the client's connections.

A markdown table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway_core.api import Identity, ProviderCall
from gateway_core.gateway import Gateway
from gateway_core.pipeline import Exchange
from gateway_core.testing import settings_from_mapping
from gateway_core.testservers import RedisServer
from gateway_core.usage.records import Usage

HUGE = 1_000_000_000
BODY = {
    "model": "bench",
    "messages": [{"role": "user", "content": "hello " * 20}],
    "max_tokens": 64,
}
USAGE = Usage(prompt_tokens=30, completion_tokens=40, total_tokens=70)
COST = Decimal("0.00012")
CONCURRENCY = 64

SCENARIOS: dict[str, dict[str, Any]] = {
    "no limits apply": {},
    "key rpm": {"default_rpm": HUGE},
    "key rpm + tpm": {"default_rpm": HUGE, "default_tpm": HUGE},
    "6 limits (key rpm/tpm/parallel/budget, team rpm, global rpm)": {
        "default_rpm": HUGE,
        "default_tpm": HUGE,
        "rules": [
            {"strategy": "parallel", "scope": "key", "limit": HUGE},
            {"strategy": "budget", "scope": "key", "limit": HUGE, "period": "month"},
            {"strategy": "rpm", "scope": "team", "limit": HUGE},
            {"strategy": "rpm", "scope": "global", "limit": HUGE},
        ],
    },
}


def say(message: str) -> None:
    print(f"[limits bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(limits: dict[str, Any], redis_url: str | None) -> Gateway:
    deployment = {
        "provider": "openai",
        "model": "bench",
        "base_url": "http://127.0.0.1:9/v1",
        "price": {"input": 1, "output": 2},
    }
    config: dict[str, Any] = {
        "auth": {"master_key": "sk-bench-limits-0123"},
        "limits": limits,
        "models": [{"name": "bench", "deployments": [deployment]}],
    }
    if redis_url is not None:
        config["redis"] = {"url": redis_url}
    gateway = Gateway(settings_from_mapping(config))
    gateway.build_router()
    return gateway


class RoundTrips:
    """Counts commands sent on the gateway's Redis connections."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, gateway: Gateway) -> None:
        client = getattr(gateway.shared, "client", None)
        if client is None:
            return
        original = redis.Connection.send_packed_command
        counter = self

        async def counted(connection, command, check_health=True):  # type: ignore[no-untyped-def]
            counter.count += 1
            return await original(connection, command, check_health)

        redis.Connection.send_packed_command = counted  # type: ignore[method-assign]


async def one_request(gateway: Gateway, exchange: Exchange) -> None:
    admission = await gateway.limits.admit(exchange)
    deployment = exchange.route.deployments[0]
    if await admission.acquire(deployment):
        admission.attempt_finished(deployment, answered=True)
    await admission.settle(USAGE, COST)


def exchanges(gateway: Gateway, count: int) -> list[Exchange]:
    """Distinct keys in a few teams, as real traffic would have."""
    raw = orjson.dumps(BODY)
    route = gateway.router.routes["bench"]
    out = []
    for index in range(count):
        identity = Identity(
            subject=f"key_{index % 500}", method="virtual_key", team_id=f"team_{index % 20}"
        )
        call = ProviderCall("chat", BODY, raw, "bench", False, f"req-{index}")
        out.append(Exchange(gateway, identity, route, call, None))
    return out


async def measure(gateway: Gateway, requests: int, trips: RoundTrips) -> dict[str, float]:
    await gateway.limits.start()
    try:
        warm = exchanges(gateway, 200)
        for exchange in warm:
            await one_request(gateway, exchange)
        batch = exchanges(gateway, requests)
        trips.count = 0
        timings = []
        for exchange in batch:
            started = time.perf_counter()
            await one_request(gateway, exchange)
            timings.append(time.perf_counter() - started)
        per_request_trips = trips.count / requests
        batch = exchanges(gateway, requests)
        queue = iter(batch)

        async def worker() -> None:
            for exchange in queue:
                await one_request(gateway, exchange)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    finally:
        await gateway.limits.close()
        await gateway.shared.close()
    timings.sort()
    return {
        "mean_us": statistics.fmean(timings) * 1e6,
        "p99_us": timings[int(len(timings) * 0.99)] * 1e6,
        "concurrent_rps": requests / elapsed,
        "round_trips": per_request_trips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args()
    requests = args.requests or (2_000 if args.quick else 20_000)
    rows = []
    with RedisServer() as server:
        for backend, url in (("in-process", None), ("redis", server.url)):
            for name, limits in SCENARIOS.items():
                say(f"{backend}: {name} ({requests} requests)")
                gateway = build(limits, url)
                trips = RoundTrips()
                trips.install(gateway)
                result = asyncio.run(measure(gateway, requests, trips))
                rows.append((backend, name, result))
    print(f"Limiter cost per request ({requests} requests; admission, acquire and settlement)\n")
    print("| backend | limits | mean µs | p99 µs | req/s at 64 in flight | Redis round trips |")
    print("|---|---|---:|---:|---:|---:|")
    for backend, name, r in rows:
        trips = f"{r['round_trips']:.2f}" if backend == "redis" else "-"
        print(
            f"| {backend} | {name} | {r['mean_us']:.1f} | {r['p99_us']:.1f} | "
            f"{r['concurrent_rps']:,.0f} | {trips} |"
        )


if __name__ == "__main__":
    main()
