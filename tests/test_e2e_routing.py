"""End to end: failover between real upstream processes, driven by the openai SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, deployment

pytestmark = pytest.mark.e2e

ROUTING = {"backoff_initial": 0.01, "circuit_breaker": {"consecutive_failures": 2, "cooldown": 60}}


def messages(text: str = "hello") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_client_sees_no_error_when_upstreams_die_stall_and_throttle(
    gateway_process, spawn_upstream
) -> None:
    dead, slow, limited, healthy = (spawn_upstream() for _ in range(4))
    dead.stop()
    config = {
        "auth": {"master_key": MASTER_KEY},
        "routing": ROUTING,
        "models": [
            {
                "name": "resilient",
                "strategy": "priority",
                "fallbacks": ["backup"],
                "deployments": [
                    deployment(dead.base_url(), id="dead"),
                    deployment(slow.base_url(latency=3), id="slow", timeouts={"first_byte": 0.3}),
                    deployment(limited.base_url(status=429, retry_after=30), id="limited"),
                ],
            },
            {"name": "backup", "deployments": [deployment(healthy.base_url(), id="healthy")]},
        ],
    }
    gateway = gateway_process(config)
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)

    for index in range(6):
        raw = client.chat.completions.with_raw_response.create(
            model="resilient", messages=messages(f"question {index}")
        )
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-gateway-model"] == "backup"
        assert raw.headers["x-gateway-deployment"] == "healthy"
    stream = client.chat.completions.create(model="resilient", messages=messages(), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    # The throttled upstream was asked once, then left alone for its Retry-After; the slow and
    # dead ones were tried until their circuits opened, and not again.
    assert limited.stats()["requests"] == 1
    assert slow.stats()["requests"] == 2
    assert healthy.stats()["requests"] == 7
    states = httpx.get(
        f"{gateway.base_url}/admin/api/deployments",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    ).json()["data"]
    by_id = {row["id"]: row for row in states}
    assert {by_id[name]["state"] for name in ("dead", "slow", "limited")} == {"open"}
    assert by_id["limited"]["retry_in_seconds"] > 25
    assert by_id["healthy"]["state"] == "closed" and by_id["healthy"]["successes"] == 7

    metrics = httpx.get(f"{gateway.base_url}/metrics").text
    dead_state = (
        'gateway_deployment_circuit_state{deployment="dead",model="resilient",state="open"}'
    )
    healthy = (
        'gateway_deployment_attempts_total{deployment="healthy",model="backup",outcome="success"}'
    )
    assert f"{dead_state} 1.0" in metrics
    assert f"{healthy} 7.0" in metrics


def test_streams_fail_over_only_before_the_first_byte(gateway_process, spawn_upstream) -> None:
    refusing, dropping, healthy = (spawn_upstream() for _ in range(3))
    config = {
        "auth": {"master_key": MASTER_KEY},
        "routing": ROUTING,
        "models": [
            {
                "name": "refuses-first",
                "strategy": "priority",
                "deployments": [
                    deployment(refusing.base_url(status=503), id="refusing"),
                    deployment(healthy.base_url(), id="healthy-a"),
                ],
            },
            {
                "name": "drops-midway",
                "strategy": "priority",
                "deployments": [
                    deployment(dropping.base_url(fail_after=2, chunks=6), id="dropping"),
                    deployment(healthy.base_url(), id="healthy-b"),
                ],
            },
        ],
    }
    gateway = gateway_process(config)
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)

    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="refuses-first", messages=messages(), stream=True
        )
        if c.choices
    )
    assert text and refusing.stats()["requests"] == 1
    assert healthy.stats()["requests"] == 1

    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(
            model="drops-midway", messages=messages(), stream=True
        ):
            received.append(chunk)
    assert received, "the stream had started"
    assert healthy.stats()["requests"] == 1, "a started stream is never retried elsewhere"


def test_deadline_header_cuts_a_slow_upstream_short(gateway_process, mock_upstream) -> None:
    config = {
        "auth": {"master_key": MASTER_KEY},
        "models": [
            {"name": "slow", "deployments": [deployment(mock_upstream.base_url(latency=3))]}
        ],
    }
    gateway = gateway_process(config)
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "slow", "messages": messages()},
        headers={"Authorization": f"Bearer {MASTER_KEY}", "x-gateway-timeout": "0.4"},
        timeout=10,
    )
    assert response.status_code == 504
    assert "deadline" in response.json()["error"]["message"]
    assert response.elapsed.total_seconds() < 2
