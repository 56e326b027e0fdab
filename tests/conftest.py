"""Shared fixtures: the mock upstream from examples/, running as a real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.testing import free_port, wait_for_http
from gateway_core.testservers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-test-master-key-0123456789"


class MockUpstream:
    def __init__(self, port: int) -> None:
        self.port = port
        self.root = f"http://127.0.0.1:{port}"

    def base_url(self, **options: Any) -> str:
        """The ``base_url`` of a deployment whose every response follows ``options``."""
        if not options:
            return f"{self.root}/v1"
        encoded = ",".join(f"{key}={value}" for key, value in options.items())
        return f"{self.root}/mock/{encoded}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/mock/stats", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.root}/mock/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310


class MockUpstreamProcess(MockUpstream):
    """The example mock upstream as a child process that a test can also kill."""

    def __init__(self) -> None:
        super().__init__(free_port())
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "mock_upstream.py"), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(f"{self.root}/mock/stats", process=self.process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[MockUpstream]:
    upstream = MockUpstreamProcess()
    yield upstream
    upstream.stop()


@pytest.fixture
def spawn_upstream() -> Iterator[Callable[[], MockUpstreamProcess]]:
    """Start extra mock upstreams for one test; each is stopped afterwards."""
    started: list[MockUpstreamProcess] = []

    def spawn() -> MockUpstreamProcess:
        started.append(MockUpstreamProcess())
        return started[-1]

    yield spawn
    for upstream in started:
        upstream.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run; tests create their own databases in it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server for the whole run (tests that kill it use their own)."""
    with RedisServer() as server:
        yield server


def install_test_plugin(site: Path, name: str, module: str, version: str = "1.0.0") -> Path:
    """Record a real distribution whose entry point ``name`` in group gateway_core is ``module``.

    Put ``site`` on PYTHONPATH (with the repository root, so ``tests.plugins`` imports) and the
    gateway discovers the plugin exactly as it would an installed package.
    """
    dist_info = site / f"gateway_{name}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: gateway-{name}\nVersion: {version}\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[gateway_core]\n{name} = {module}\n")
    return site


def plugin_env(site: Path) -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def deployment(base_url: str, model: str = "mock-gpt", **extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": model, "base_url": base_url, **extra}
