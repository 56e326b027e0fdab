"""Named gateway configurations ("profiles") the benchmark runs.

Each profile turns the upstream addresses into a gateway config. Every profile is measured with
each worker count in BENCH_WORKERS and is picked by name with BENCH_PROFILES. To add one (for
example a "production" profile with key auth, limits and usage sinks), write a function like
:func:`bare` and append a :class:`Profile` to :data:`PROFILES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.upstreams import Upstreams

MASTER_KEY = "sk-bench-master-key-123"

#: The public model names every system serves, one per scenario.
CHAT_MODEL = "bench-model"
STREAM_MODEL = "bench-stream"
PACED_MODEL = "bench-paced"


def bench_models(upstreams: Upstreams) -> list[dict[str, Any]]:
    """The three models, each with one OpenAI-compatible deployment on loopback."""

    def model(name: str, base_url: str) -> dict[str, Any]:
        deployment = {"provider": "openai", "model": name, "base_url": base_url}
        return {"name": name, "deployments": [deployment]}

    return [
        model(CHAT_MODEL, upstreams.chat_base),
        model(STREAM_MODEL, upstreams.stream_base),
        model(PACED_MODEL, upstreams.paced_base),
    ]


def bare(upstreams: Upstreams) -> dict[str, Any]:
    """A bare proxy: the master key as the only auth method, no usage sinks, no limits."""
    return {
        "auth": {"master_key": MASTER_KEY, "methods": ["master_key"]},
        "plugins": {"limits": False},
        "usage": {"sinks": []},
        "models": bench_models(upstreams),
    }


def sinks(upstreams: Upstreams) -> dict[str, Any]:
    """The bare proxy plus three usage sinks (database, jsonl, Prometheus): compared with
    ``bare``, it isolates what recording usage costs a request."""
    config = bare(upstreams)
    config["usage"] = {"sinks": [{"type": "database"}, {"type": "jsonl"}, {"type": "prometheus"}]}
    return config


#: Limits high enough never to refuse a benchmark request, so that their cost is measured.
GENEROUS = 1_000_000_000


def production(upstreams: Upstreams) -> dict[str, Any]:
    """What a production deployment turns on: virtual-key auth (asked first), limits kept in
    Redis, and the default usage sinks (database and Prometheus)."""
    return {
        "auth": {"master_key": MASTER_KEY, "methods": ["virtual_key", "master_key"]},
        "limits": {"default_rpm": GENEROUS, "default_tpm": GENEROUS},
        "usage": {"sinks": [{"type": "database"}, {"type": "prometheus"}]},
        "models": bench_models(upstreams),
    }


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    config: Callable[[Upstreams], dict[str, Any]]
    #: Extra environment for the gateway process (for example a DSN a plugin reads).
    env: dict[str, str | None] = field(default_factory=dict)
    key: str = MASTER_KEY
    #: Issue a virtual key through the admin API once the gateway is up, and use it.
    virtual_key: bool = False
    #: Needs a Redis server; the harness starts one and passes ROUTER_REDIS_URL.
    redis: bool = False


PROFILES: list[Profile] = [
    Profile("bare", "bare proxy: master key only, no usage sinks, no limits", bare),
    Profile("sinks", "bare plus database, jsonl and Prometheus usage sinks", sinks),
    Profile(
        "production",
        "virtual keys, limits on Redis, database and Prometheus usage sinks",
        production,
        virtual_key=True,
        redis=True,
    ),
]


def select(names: list[str]) -> list[Profile]:
    known = {profile.name: profile for profile in PROFILES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown BENCH_PROFILES {unknown}; known: {sorted(known)}")
    return [known[name] for name in names]
