"""Shared fixtures: the mock upstream from examples/, running as a real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.testing import free_port, wait_for_http

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


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[MockUpstream]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "mock_upstream.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/mock/stats", process=process)
        yield MockUpstream(port)
    finally:
        process.terminate()
        process.wait(10)


def deployment(base_url: str, model: str = "mock-gpt", **extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": model, "base_url": base_url, **extra}
