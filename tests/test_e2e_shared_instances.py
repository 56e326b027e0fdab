"""Several gateway instances sharing PostgreSQL and Redis, as in production."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from gateway_core.testservers import RedisServer
from tests.conftest import MASTER_KEY, deployment

pytestmark = pytest.mark.e2e


def shared_config(upstream, database_url: str, redis_url: str) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "models": [{"name": "demo", "deployments": [deployment(upstream.base_url())]}],
    }


def ask(base_url: str, key: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])


def seconds_until_refused(gateways, key: str, limit: float = 5.0) -> float:
    """Poll every instance until each refuses the key; how long the slowest one took."""
    started, pending = time.monotonic(), {g.base_url for g in gateways}
    while pending and time.monotonic() - started < limit:
        for base_url in list(pending):
            try:
                ask(base_url, key)
            except openai.AuthenticationError:
                pending.discard(base_url)
        time.sleep(0.02)
    assert not pending, f"still accepted by {pending}"
    return time.monotonic() - started


def create_key(base_url: str, name: str) -> dict:
    response = httpx.post(
        f"{base_url}/admin/api/keys",
        json={"name": name},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def revoke(base_url: str, key_id: str) -> None:
    response = httpx.post(
        f"{base_url}/admin/api/keys/{key_id}/revoke",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    )
    assert response.status_code == 200


def warm(gateways, key: str) -> None:
    for gateway in gateways:
        for _ in range(8):  # several requests so that every worker caches the key
            ask(gateway.base_url, key)


def test_revocation_reaches_every_instance_within_a_second(
    gateway_process, mock_upstream, postgres_server, redis_server
) -> None:
    config = shared_config(
        mock_upstream, postgres_server.create_database("shared_revoke"), redis_server.url
    )
    first = gateway_process(config, workers=2)
    second = gateway_process(config, workers=2)
    for gateway in (first, second):
        ready = httpx.get(f"{gateway.base_url}/readyz").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}

    key = create_key(first.base_url, "shared")
    warm((first, second), key["key"])
    revoke(first.base_url, key["id"])
    # Workers cache keys for 60 s when Redis is there: only the broadcast can explain this.
    assert seconds_until_refused((first, second), key["key"]) < 1.0


def test_revocation_still_broadcast_after_a_redis_outage(
    gateway_process, mock_upstream, postgres_server
) -> None:
    with RedisServer() as redis:
        config = shared_config(
            mock_upstream, postgres_server.create_database("shared_outage"), redis.url
        )
        first = gateway_process(config)
        second = gateway_process(config)
        key = create_key(first.base_url, "outage")
        warm((first, second), key["key"])
        redis.kill()
        time.sleep(0.5)
        ready = httpx.get(f"{second.base_url}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("failing")
        redis.restart()
        time.sleep(2.0)  # the listeners reconnect by themselves
        assert httpx.get(f"{second.base_url}/readyz").status_code == 200
        warm((first, second), key["key"])
        revoke(first.base_url, key["id"])
        assert seconds_until_refused((first, second), key["key"]) < 1.0
