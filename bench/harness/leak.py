"""Leak check: does one gateway worker keep growing as requests go by?

A fresh single-worker gateway is driven with non-streaming requests in legs that end at fixed
request counts (50k, 100k, 150k by default). After each leg the load stops, the process settles
for a moment, and its resident memory is read. Growth after the first checkpoint, when caches
and pools are already warm, is what a leak would look like.
"""

from __future__ import annotations

import time
from typing import Any

from harness import wrk
from harness.memory import tree_rss_kb
from harness.systems import System, request_body
from harness.upstreams import Upstreams

#: Allocator noise: growth up to this much between the first and last checkpoint is "flat".
NOISE_MB = 2.0
SETTLE_SECONDS = 1.5
LEG_CAP_SECONDS = 600.0


def _tree_mb(pid: int) -> float:
    return round(sum(v.get("VmRSS", 0) for v in tree_rss_kb(pid).values()) / 1024, 2)


def run(
    system: System,
    upstreams: Upstreams,
    checkpoints: list[int],
    connections: int,
    threads: int,
    timeout: float,
) -> dict[str, Any]:
    assert system.managed is not None
    pid = system.managed.pid
    base = upstreams.nginx_requests()
    polls = 0

    def served() -> int:
        # Every poll is itself a request nginx counts; take those back out.
        nonlocal polls
        polls += 1
        return upstreams.nginx_requests() - base - polls

    readings: list[dict[str, Any]] = [{"requests": 0, "rss_mb": _tree_mb(pid)}]
    errors = 0
    sent = 0
    legs = []
    for target in sorted(checkpoints):
        load = wrk.Load(
            url=system.urls["chat"],
            body=request_body("chat"),
            key=system.key,
            connections=connections,
            duration=LEG_CAP_SECONDS,
            threads=threads,
            timeout=timeout,
        )

        def reached(target: int = target) -> bool:
            time.sleep(0.15)  # poll gently; nginx counts each poll
            return served() >= target

        result = wrk.run_until(load, reached, LEG_CAP_SECONDS)
        legs.append(result)
        if "failed" in result:
            return {"failed": result["failed"], "readings": readings, "legs": legs}
        sent += result["requests"]
        errors += result["errors"]["total"]
        time.sleep(SETTLE_SECONDS)
        if not system.managed.alive():
            return {"failed": "the gateway exited during the leak check", "readings": readings}
        readings.append({"requests": sent, "rss_mb": _tree_mb(pid), "rps": result["rps"]})
    first, last = readings[1], readings[-1]
    growth = round(last["rss_mb"] - first["rss_mb"], 2)
    return {
        "system": system.name,
        "connections": connections,
        "readings": readings,
        "errors": errors,
        "growth_mb": growth,
        "growth_from": first["requests"],
        "growth_to": last["requests"],
        "noise_mb": NOISE_MB,
        "flat": growth <= NOISE_MB,
        "process_alive": system.managed.alive(),
    }
