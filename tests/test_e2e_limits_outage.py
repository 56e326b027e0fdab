"""Redis going away under a gateway: fail open (counted) or closed (503), never hang, and
enforce limits again by itself once Redis is back."""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest

from gateway_core.testservers import RedisServer
from tests.conftest import MASTER_KEY, deployment

pytestmark = pytest.mark.e2e

QUICK = 2.0  # seconds: far above limits.timeout, far below anything that looks like a hang


def config(upstream, redis_url: str, **limits) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "redis": {"url": redis_url},
        "limits": {"rules": [{"strategy": "rpm", "scope": "model", "limit": 3}], **limits},
        "models": [{"name": "demo", "deployments": [deployment(upstream.base_url())]}],
    }


def chat(base_url: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=30,
    )


def metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def enforced_again(base_url: str, timeout: float = 10.0) -> bool:
    """Whether the model's rpm of 3 refuses again within ``timeout`` (counters restart empty)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if chat(base_url).status_code == 429:
            return True
        time.sleep(0.1)
    return False


def test_fail_open_lets_requests_through_counts_them_and_recovers(
    gateway_process, mock_upstream
) -> None:
    with RedisServer() as server:
        gateway = gateway_process(config(mock_upstream, server.url))
        assert [chat(gateway.base_url).status_code for _ in range(4)] == [200, 200, 200, 429]

        server.kill()
        for _ in range(6):
            response = chat(gateway.base_url)
            assert response.status_code == 200
            assert response.elapsed.total_seconds() < QUICK
        assert metric(gateway.base_url, "gateway_limits_failed_open_total") >= 6
        assert "limits backend unavailable" in gateway.log()

        server.start()
        assert enforced_again(gateway.base_url), "limits were not enforced after Redis returned"
        assert "limits backend reachable again" in gateway.log()


def test_fail_closed_answers_503_at_once_even_when_redis_hangs(
    gateway_process, mock_upstream
) -> None:
    with RedisServer() as server:
        gateway = gateway_process(
            config(mock_upstream, server.url, failure_mode="closed", timeout=0.3)
        )
        assert chat(gateway.base_url).status_code == 200

        os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
        try:
            for _ in range(3):
                response = chat(gateway.base_url)
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "service_unavailable"
                assert response.headers["retry-after"] == "1"
                assert response.elapsed.total_seconds() < QUICK
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert metric(gateway.base_url, "gateway_limits_failed_closed_total") >= 3

        server.kill()
        assert chat(gateway.base_url).status_code == 503
        server.start()
        deadline = time.monotonic() + 10
        while chat(gateway.base_url).status_code != 200:
            assert time.monotonic() < deadline, "requests stayed refused after Redis returned"
            time.sleep(0.1)
