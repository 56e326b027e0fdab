"""Benchmark the gateway against direct upstream calls and the LiteLLM proxy.

Run it with ``make bench`` (which installs nginx, wrk and LiteLLM first) or directly with the
project's interpreter: ``.venv/bin/python bench/run.py``. Knobs are environment variables,
described in bench/README.md. The markdown report goes to stdout, progress to stderr, and the
full results to ``bench/results/<date>.json``.

``python bench/run.py --render <results.json>`` prints the report of a saved run again.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import leak, memory, procs, profiles, report, systems, ttfb, upstreams, wrk
from harness.knobs import REPO, Knobs, read_knobs
from harness.machine import describe, load_average

from gateway_core.testservers import RedisServer

LOAD_SCENARIOS = ("chat", "stream")
TTFB_SCENARIOS = ("stream", "paced")


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def start_systems(
    knobs: Knobs, ups: upstreams.Upstreams, results: dict[str, Any]
) -> list[systems.System]:
    """Launch every system at once (LiteLLM is slow to boot), then wait for each."""
    work = knobs.work_dir
    chosen = [systems.direct(ups)]
    for profile in profiles.select(knobs.profiles):
        for workers in knobs.workers:
            chosen.append(systems.launch_gateway(profile, workers, ups, work))
    if knobs.litellm:
        if results["machine"].get("litellm_version") is None:
            reason = systems.litellm_missing_reason(knobs)
            for workers in knobs.workers:
                chosen.append(
                    systems.System(f"litellm w{workers}", "litellm", workers, unavailable=reason)
                )
        else:
            for workers in knobs.workers:
                chosen.append(systems.launch_litellm(workers, ups, work, knobs))
    else:
        why = "BENCH_QUICK=1" if knobs.quick else "BENCH_LITELLM=0"
        results["notes"].append(f"LiteLLM skipped ({why})")
    for system in chosen:
        systems.wait_ready(system)
        if system.unavailable:
            say(f"{system.name}: unavailable: {system.unavailable.splitlines()[0]}")
            continue
        systems.sanity_check(system)
        ready = f"ready in {system.startup_seconds}s" if system.startup_seconds else "ready"
        broken = f"; failing: {system.broken}" if system.broken else ""
        say(f"{system.name}: {ready}{broken}")
    return chosen


def wrk_load(
    knobs: Knobs, system: systems.System, scenario: str, connections: int, seconds: float
) -> wrk.Load:
    return wrk.Load(
        url=system.urls[scenario],
        body=systems.request_body(scenario),
        key=system.key,
        connections=connections,
        duration=seconds,
        threads=knobs.wrk_threads,
        timeout=knobs.wrk_timeout,
    )


def load_matrix(knobs: Knobs, chosen: list[systems.System], results: dict[str, Any]) -> None:
    """Interleaved: each concurrency level visits every system before moving on."""
    for scenario in LOAD_SCENARIOS:
        active = [s for s in chosen if s.runs(scenario)]
        for system in active:
            if knobs.warmup > 0:
                say(f"warm-up {scenario} {system.name}")
                connections = min(16, max(knobs.concurrency))
                wrk.run(wrk_load(knobs, system, scenario, connections, knobs.warmup))
        for connections in knobs.concurrency:
            for system in active:
                outcome = wrk.run(wrk_load(knobs, system, scenario, connections, knobs.duration))
                row = {"scenario": scenario, "connections": connections, "system": system.name}
                results["load"].append({**row, **outcome})
                if "failed" in outcome:
                    say(f"{scenario} c={connections} {system.name}: {outcome['failed']}")
                else:
                    say(
                        f"{scenario} c={connections} {system.name}: {outcome['rps']:,.0f} rps, "
                        f"p50 {outcome['p50_ms']:.2f} ms, errors {outcome['errors']['total']}"
                    )


def ttfb_runs(knobs: Knobs, chosen: list[systems.System], results: dict[str, Any]) -> None:
    for scenario in TTFB_SCENARIOS:
        for system in chosen:
            if not system.runs(scenario):
                continue
            outcome = ttfb.run(
                system.urls[scenario],
                systems.request_body(scenario),
                system.key,
                knobs.ttfb_requests,
            )
            results["ttfb"].append({"scenario": scenario, "system": system.name, **outcome})
            say(
                f"ttfb {scenario} {system.name}: p50 {outcome['ttfb']['p50_ms']} ms, "
                f"errors {outcome['errors']}"
            )


def leak_check(knobs: Knobs, ups: upstreams.Upstreams) -> dict[str, Any]:
    if not knobs.leak:
        return {"skipped": "BENCH_QUICK=1" if knobs.quick else "BENCH_LEAK=0"}
    profile = next((p for p in profiles.PROFILES if p.name == "bare"), profiles.PROFILES[0])
    leak_dir = knobs.work_dir / "leak"
    leak_dir.mkdir(parents=True, exist_ok=True)
    system = systems.launch_gateway(profile, 1, ups, leak_dir)
    systems.wait_ready(system)
    if system.unavailable:
        return {"failed": system.unavailable.splitlines()[0]}
    say(f"leak check on a fresh {system.name}: {knobs.leak_checkpoints} requests")
    try:
        return leak.run(
            system,
            ups,
            knobs.leak_checkpoints,
            knobs.leak_concurrency,
            knobs.wrk_threads,
            knobs.wrk_timeout,
        )
    finally:
        assert system.managed is not None
        procs.stop(system.managed)
        count, example = system.managed.error_lines()
        if count:
            say(f"leak-check gateway logged {count} ERROR lines; first: {example}")


def measure(knobs: Knobs, results: dict[str, Any], sampler: memory.Sampler) -> None:
    work = knobs.work_dir
    _, nginx_port = upstreams.start_nginx(work)
    _, mock_port = upstreams.start_mock(work)
    ups = upstreams.Upstreams(nginx_port, mock_port)
    say(f"nginx on :{nginx_port}, mock upstream on :{mock_port}")
    with shared_redis(knobs):
        run_systems(knobs, ups, results, sampler)


@contextlib.contextmanager
def shared_redis(knobs: Knobs) -> Iterator[None]:
    """A Redis server on loopback for the profiles that keep limits in Redis."""
    wanted = [p for p in profiles.select(knobs.profiles) if p.redis]
    if not wanted:
        yield
        return
    with RedisServer() as redis:
        say(f"redis on :{redis.port}")
        for profile in wanted:
            profile.env["ROUTER_REDIS_URL"] = redis.url
        yield


def run_systems(
    knobs: Knobs, ups: upstreams.Upstreams, results: dict[str, Any], sampler: memory.Sampler
) -> None:
    chosen = start_systems(knobs, ups, results)
    results["systems"] = [s.describe() for s in chosen]
    for system in chosen:
        if system.managed is not None and not system.unavailable:
            sampler.watch(system.name, system.managed.pid)
    load_matrix(knobs, chosen, results)
    ttfb_runs(knobs, chosen, results)
    for system in chosen:
        if system.name in sampler.roots:
            tree = sampler.unwatch(system.name)
            peak = sampler.peaks[system.name].as_dict()
            results["memory"][system.name] = {**peak, "tree_at_end": tree}
        if system.managed is not None:
            procs.stop(system.managed)
            count, example = system.managed.error_lines()
            results["log_errors"][system.name] = {"lines": count, "first": example}
            if count and system.kind == "gateway":
                where = system.managed.log_path
                shown = where.relative_to(REPO) if where.is_relative_to(REPO) else where
                results["notes"].append(
                    f"{system.name} logged {count} ERROR lines ({shown}); first: {example}"
                )
    results["systems"] = [s.describe() for s in chosen]
    results["leak"] = leak_check(knobs, ups)
    results["upstream_requests"] = ups.nginx_requests()


def write_results(knobs: Knobs, results: dict[str, Any]) -> Path:
    knobs.results_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if knobs.quick else ""
    path = knobs.results_dir / f"{results['date']}{suffix}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", type=Path, help="print the report of a saved results file")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        report.derive(saved)  # today's target definitions, applied to the saved figures
        print(report.markdown(saved))
        return 0

    knobs = read_knobs()
    procs.install_signal_handlers()
    shutil.rmtree(knobs.work_dir, ignore_errors=True)
    knobs.work_dir.mkdir(parents=True)
    started = time.monotonic()
    now = dt.datetime.now().astimezone()
    results: dict[str, Any] = {
        "date": now.date().isoformat(),
        "started_at": now.isoformat(timespec="seconds"),
        "quick": knobs.quick,
        "knobs": knobs.as_dict(),
        "machine": describe(
            {
                "litellm_version": systems.litellm_version(knobs) if knobs.litellm else None,
                "nginx": upstreams.nginx_version(),
                "wrk": wrk.wrk_version(),
            }
        ),
        "systems": [],
        "load": [],
        "ttfb": [],
        "memory": {},
        "leak": {},
        "log_errors": {},
        "notes": [],
    }
    sampler = memory.Sampler()
    sampler.start()
    status = 0
    try:
        measure(knobs, results, sampler)
    except KeyboardInterrupt:
        say("interrupted; stopping every process the benchmark started")
        return 130
    except Exception:
        results["error"] = traceback.format_exc()
        say(f"the benchmark failed:\n{results['error']}")
        status = 1
    finally:
        sampler.stop()
        procs.stop_all()
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = load_average()
    busy = (results["machine"].get("load_average_at_start") or [0.0])[0]
    if busy > 0.5:
        results["notes"].append(
            f"the machine was already busy when the run started (1-minute load average "
            f"{busy:.2f}); other work competes for the CPUs and skews every figure"
        )
    report.derive(results)
    path = write_results(knobs, results)
    print(report.markdown(results))
    print(f"Results: {path} ({results['elapsed_seconds']:.0f}s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
