"""Closed-loop load with wrk: fixed connections for a fixed time, results parsed from Lua.

bench/wrk/post.lua prints one ``BENCH_JSON {...}`` line from its ``done()`` hook; everything
reported (requests per second, percentiles, error kinds) comes from that line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.knobs import BENCH_DIR

SCRIPT = BENCH_DIR / "wrk" / "post.lua"
MARKER = "BENCH_JSON "


@dataclass
class Load:
    url: str
    body: str
    key: str | None
    connections: int
    duration: float
    threads: int
    timeout: float


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(
            "wrk is not installed; run `WITH_BENCH_TOOLS=1 bash .ci/system-packages`"
        )
    return found


def wrk_version() -> str:
    try:
        result = subprocess.run(
            [wrk_binary(), "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, RuntimeError):
        return "unavailable"
    first = (result.stdout or result.stderr).splitlines()
    # "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer" -> up to the copyright
    return first[0].split(" Copyright")[0].strip() if first else "unknown"


def _argv(load: Load, duration: float) -> list[str]:
    threads = max(1, min(load.threads, load.connections))
    return [
        wrk_binary(),
        f"-t{threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={max(1, round(load.timeout))}s",
        "-s",
        str(SCRIPT),
        load.url,
    ]


def _env(load: Load) -> dict[str, str]:
    return {**os.environ, "BENCH_BODY": load.body, "BENCH_KEY": load.key or ""}


def _parse(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            return summarise(raw)
    tail = (stderr or stdout).strip().splitlines()[-3:]
    return {"failed": f"wrk exited {returncode} without results: {' | '.join(tail)}"}


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    errors = raw["errors"]
    completed = raw["requests"]
    return {
        "requests": completed,
        "seconds": round(seconds, 3),
        "rps": round(completed / seconds, 1) if seconds else 0.0,
        "p50_ms": latency["p50"] / 1000,
        "p90_ms": latency["p90"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "p999_ms": latency["p999"] / 1000,
        "mean_ms": round(latency["mean"] / 1000, 3),
        "max_ms": latency["max"] / 1000,
        "errors": {**errors, "total": sum(errors.values())},
    }


def run(load: Load) -> dict[str, Any]:
    """One wrk run; never raises for a misbehaving system, reports ``failed`` instead."""
    try:
        result = subprocess.run(
            _argv(load, load.duration),
            capture_output=True,
            text=True,
            env=_env(load),
            timeout=load.duration + load.timeout + 60,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return {"failed": "wrk did not finish in time"}
    return _parse(result.stdout, result.stderr, result.returncode)


def run_until(load: Load, reached: Callable[[], bool], cap: float) -> dict[str, Any]:
    """Run wrk until ``reached()`` says so (polled), then stop it early with SIGINT.

    wrk has no request-count option, but it prints its summary when interrupted.
    """
    popen = subprocess.Popen(
        _argv(load, cap),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(load),
        start_new_session=True,
    )
    try:
        while popen.poll() is None and not reached():
            time.sleep(0.05)
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
        stdout, stderr = popen.communicate(timeout=load.timeout + 30)
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
    return _parse(stdout, stderr, popen.returncode)
