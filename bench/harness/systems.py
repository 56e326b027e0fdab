"""The systems under test and how each one is started, checked and stopped.

A system is anything that answers ``POST .../chat/completions`` for the three scenarios:
the upstreams themselves ("direct"), this gateway (one entry per profile and worker count)
and the LiteLLM proxy (one entry per worker count).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import procs
from harness.knobs import Knobs
from harness.ports import LOOPBACK, free_port
from harness.profiles import CHAT_MODEL, MASTER_KEY, PACED_MODEL, STREAM_MODEL, Profile
from harness.upstreams import Upstreams

#: chat and stream hit nginx; paced hits the Python mock (TTFB only).
SCENARIOS = ("chat", "stream", "paced")
MODELS = {"chat": CHAT_MODEL, "stream": STREAM_MODEL, "paced": PACED_MODEL}
STARTUP_TIMEOUT = {"gateway": 60.0, "litellm": 180.0}


def request_body(scenario: str) -> str:
    body: dict[str, Any] = {
        "model": MODELS[scenario],
        "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
        "max_tokens": 32,
    }
    if scenario != "chat":
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":"))


@dataclass
class System:
    name: str
    kind: str  # "direct", "gateway" or "litellm"
    workers: int | None = None
    profile: str | None = None
    key: str | None = None
    virtual_key: bool = False
    urls: dict[str, str] = field(default_factory=dict)
    managed: procs.Managed | None = None
    unavailable: str | None = None
    #: scenario -> why this system cannot run it (failed its sanity request)
    broken: dict[str, str] = field(default_factory=dict)
    startup_seconds: float | None = None
    health_url: str | None = None
    port: int | None = None
    #: The generated config (gateway and LiteLLM), kept in the results for reference.
    config: dict[str, Any] | None = None

    def runs(self, scenario: str) -> bool:
        return self.unavailable is None and scenario in self.urls and scenario not in self.broken

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "workers": self.workers,
            "profile": self.profile,
            "unavailable": self.unavailable,
            "broken": self.broken,
            "startup_seconds": self.startup_seconds,
            "config": self.config,
        }


def direct(upstreams: Upstreams) -> System:
    return System(
        name="direct",
        kind="direct",
        urls={
            "chat": f"{upstreams.chat_base}/chat/completions",
            "stream": f"{upstreams.stream_base}/chat/completions",
            "paced": f"{upstreams.paced_base}/chat/completions",
        },
    )


def own_directory(work: Path, label: str) -> Path:
    """A private working directory per server: whatever it writes relative to its working
    directory (a SQLite file, a usage spool) stays in the run's work dir and is not shared
    with another system under test, and no .env file from the checkout is picked up."""
    directory = work / label
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _proxy_urls(port: int) -> dict[str, str]:
    url = f"http://{LOOPBACK}:{port}/v1/chat/completions"
    return dict.fromkeys(SCENARIOS, url)


def launch_gateway(profile: Profile, workers: int, upstreams: Upstreams, work: Path) -> System:
    """Start the process; :func:`wait_ready` waits for it to answer."""
    system = System(
        name=f"gateway {profile.name} w{workers}",
        kind="gateway",
        workers=workers,
        profile=profile.name,
        key=profile.key,
        virtual_key=profile.virtual_key,
    )
    port = free_port()
    config = {
        "server": {"host": LOOPBACK, "port": port, "workers": workers, "access_log": False},
        **profile.config(upstreams),
    }
    system.config = config
    config_path = work / f"gateway-{profile.name}-w{workers}.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    gateway = Path(sys.executable).parent / "gateway"
    argv = [str(gateway), "serve", "--config", str(config_path), "--port", str(port)]
    argv += ["--workers", str(workers)]
    label = f"gateway-{profile.name}-w{workers}"
    system.managed = procs.start(label, argv, work, env=profile.env, cwd=own_directory(work, label))
    system.port, system.health_url = port, f"http://{LOOPBACK}:{port}/healthz"
    return system


def litellm_version(knobs: Knobs) -> str | None:
    python = knobs.litellm_venv / "bin" / "python"
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('litellm'))"
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def litellm_missing_reason(knobs: Knobs) -> str:
    log = knobs.work_dir.parent / "litellm-install.log"
    reason = f"LiteLLM is not installed in {knobs.litellm_venv} (`make bench` installs it)"
    if log.exists():
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        if tail:
            reason += f"; last line of {log.name}: {tail[-1][:300]}"
    return reason


def launch_litellm(workers: int, upstreams: Upstreams, work: Path, knobs: Knobs) -> System:
    """Start the LiteLLM proxy (or note why it cannot run); :func:`wait_ready` waits."""
    system = System(name=f"litellm w{workers}", kind="litellm", workers=workers, key=MASTER_KEY)
    binary = knobs.litellm_venv / "bin" / "litellm"
    if not binary.exists():
        system.unavailable = litellm_missing_reason(knobs)
        return system
    bases = {"chat": upstreams.chat_base, "stream": upstreams.stream_base}
    bases["paced"] = upstreams.paced_base
    config = {
        "model_list": [
            {
                "model_name": MODELS[scenario],
                "litellm_params": {
                    "model": f"openai/{MODELS[scenario]}",
                    "api_base": bases[scenario],
                    "api_key": "dummy",
                },
            }
            for scenario in SCENARIOS
        ],
        "litellm_settings": {"num_retries": 0, "callbacks": [], "set_verbose": False},
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY},
    }
    system.config = config
    config_path = work / f"litellm-w{workers}.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    argv = [str(binary), "--config", str(config_path), "--host", LOOPBACK, "--port", str(port)]
    argv += ["--num_workers", str(workers)]
    env: dict[str, str | None] = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map at start-up
        "LITELLM_MODE": "PRODUCTION",  # no .env loading
        "LITELLM_LOG": "ERROR",
        "DATABASE_URL": None,  # no database, whatever the caller's environment says
    }
    label = f"litellm-w{workers}"
    system.managed = procs.start(label, argv, work, env=env, cwd=own_directory(work, label))
    system.port, system.health_url = port, f"http://{LOOPBACK}:{port}/health/liveliness"
    return system


def wait_ready(system: System) -> None:
    """Wait for a launched system's health URL; on failure mark it unavailable and stop it."""
    if system.managed is None or system.health_url is None or system.unavailable:
        return
    try:
        system.startup_seconds = round(
            procs.wait_http(system.managed, system.health_url, STARTUP_TIMEOUT[system.kind]), 2
        )
    except procs.StartupError as exc:
        system.unavailable = str(exc)
        procs.stop(system.managed)
        return
    assert system.port is not None
    system.urls = _proxy_urls(system.port)
    if system.virtual_key:
        try:
            system.key = issue_virtual_key(system.port, system.key)
        except OSError as exc:
            system.unavailable = f"could not issue a virtual key: {exc}"
            procs.stop(system.managed)


def issue_virtual_key(port: int, master_key: str) -> str:
    """Create a key through the admin API, as an operator would, and return it."""
    url = f"http://{LOOPBACK}:{port}/admin/api/keys"
    request = urllib.request.Request(
        url,
        data=json.dumps({"name": "bench"}).encode(),
        headers={"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())["key"]


def sanity_check(system: System) -> None:
    """One request per scenario; a scenario that fails is skipped for this system, with why."""
    for scenario, url in system.urls.items():
        headers = {"Content-Type": "application/json"}
        if system.key:
            headers["Authorization"] = f"Bearer {system.key}"
        data = request_body(scenario).encode()
        if not url.startswith(f"http://{LOOPBACK}:"):
            raise ValueError(f"refusing a non-loopback URL: {url}")
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            system.broken[scenario] = f"HTTP {exc.code}: {detail}"
            continue
        except OSError as exc:
            system.broken[scenario] = f"request failed: {exc}"
            continue
        if scenario == "chat":
            ok = b'"choices"' in body
        else:
            ok = b"data: [DONE]" in body and b'"error"' not in body
        if not ok:
            system.broken[scenario] = f"unexpected answer: {body[:300]!r}"
