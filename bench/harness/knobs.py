"""Environment knobs, read once, so a run is described by one object that goes into the JSON."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


def _number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _ints(name: str, default: str) -> list[int]:
    text = os.environ.get(name, "").strip() or default
    return [int(part) for part in text.replace(" ", "").split(",") if part]


def _names(name: str, default: str) -> list[str]:
    text = os.environ.get(name, "").strip() or default
    return [part for part in text.replace(" ", "").split(",") if part]


@dataclass
class Knobs:
    quick: bool
    duration: float
    warmup: float
    concurrency: list[int]
    workers: list[int]
    profiles: list[str]
    litellm: bool
    leak: bool
    leak_checkpoints: list[int]
    leak_concurrency: int
    ttfb_requests: int
    wrk_threads: int
    wrk_timeout: float
    litellm_venv: Path
    results_dir: Path
    work_dir: Path

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("litellm_venv", "results_dir", "work_dir"):
            data[key] = str(data[key])
        return data


def read_knobs() -> Knobs:
    """BENCH_QUICK=1 is a smoke run: short windows, no LiteLLM, no leak check."""
    quick = _flag("BENCH_QUICK", False)
    return Knobs(
        quick=quick,
        duration=_number("BENCH_DURATION", 2.0 if quick else 6.0),
        warmup=_number("BENCH_WARMUP", 1.0 if quick else 2.0),
        concurrency=_ints("BENCH_CONCURRENCY", "1,16,64"),
        workers=_ints("BENCH_WORKERS", "1,2"),
        profiles=_names("BENCH_PROFILES", "bare,production"),
        litellm=_flag("BENCH_LITELLM", not quick),
        leak=_flag("BENCH_LEAK", not quick),
        leak_checkpoints=_ints("BENCH_LEAK_REQUESTS", "50000,100000,150000"),
        leak_concurrency=int(_number("BENCH_LEAK_CONCURRENCY", 16)),
        ttfb_requests=int(_number("BENCH_TTFB_REQUESTS", 50 if quick else 300)),
        wrk_threads=int(_number("BENCH_WRK_THREADS", 2)),
        wrk_timeout=_number("BENCH_WRK_TIMEOUT", 5.0),
        litellm_venv=Path(os.environ.get("BENCH_LITELLM_VENV") or BENCH_DIR / ".venv-litellm"),
        results_dir=Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH_DIR / "results"),
        work_dir=Path(os.environ.get("BENCH_WORK_DIR") or BENCH_DIR / ".work" / "run"),
    )
