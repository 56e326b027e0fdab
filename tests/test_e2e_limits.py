"""End to end, one gateway: limits as clients see them (headers, 429s), from config and the
database, on the in-process backend and on Redis."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, deployment, install_test_plugin, plugin_env

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


def chat(base_url: str, key: str = MASTER_KEY, model: str = "demo", **body) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_default_limits_answer_like_openai(gateway_process, mock_upstream) -> None:
    config = {
        "auth": {"master_key": MASTER_KEY},
        "limits": {"default_rpm": 2, "default_tpm": 10_000},
        "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())]}],
    }
    gateway = gateway_process(config)
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)

    first = client.chat.completions.with_raw_response.create(
        model="demo", messages=[{"role": "user", "content": "hi"}], max_tokens=50
    )
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert first.headers["x-ratelimit-limit-tokens"] == "10000"
    remaining_tokens = int(first.headers["x-ratelimit-remaining-tokens"])
    assert 10_000 - 50 - 20 < remaining_tokens <= 10_000 - 50  # estimate plus max_tokens

    stream = client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    error = refused.value
    assert error.body["code"] == "rate_limit_exceeded"
    assert "key master" in error.message and "requests per minute (rpm)" in error.message
    assert "Limit 2, Used 2" in error.message
    assert 55 <= int(error.response.headers["retry-after"]) <= 60
    assert error.response.headers["x-gateway-limit"] == "rpm:key"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_database_limits_of_keys_and_teams(gateway_process, mock_upstream) -> None:
    price = {"input": 1, "output": 100}
    config = {
        "auth": {"master_key": MASTER_KEY},
        "models": [
            {"name": "demo", "deployments": [deployment(mock_upstream.base_url())]},
            {"name": "priced", "deployments": [deployment(mock_upstream.base_url(), price=price)]},
        ],
    }
    gateway = gateway_process(config)

    def create(path: str, **body) -> dict:
        response = httpx.post(f"{gateway.base_url}/admin/api{path}", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()

    team = create("/teams", name="limited", rpm_limit=3)
    strict = create("/keys", name="strict", team_id=team["id"], rpm_limit=1)
    loose = create("/keys", name="loose", team_id=team["id"])

    assert chat(gateway.base_url, strict["key"]).status_code == 200
    refused = chat(gateway.base_url, strict["key"])
    assert refused.status_code == 429
    assert f"key {strict['id']}" in refused.json()["error"]["message"]
    assert [chat(gateway.base_url, loose["key"]).status_code for _ in range(3)] == [200, 200, 429]
    assert f"team {team['id']}" in chat(gateway.base_url, loose["key"]).json()["error"]["message"]

    # About two worst cases ($0.0021 each with max_tokens 20), about 2.5 real answers.
    spender = create("/keys", name="spender", budget_usd="0.003")
    assert chat(gateway.base_url, spender["key"], model="priced", max_tokens=20).status_code == 200
    broke = chat(gateway.base_url, spender["key"], model="priced", max_tokens=20)
    assert broke.status_code == 429
    assert broke.json()["error"]["code"] == "insufficient_quota"
    assert "(total)" in broke.json()["error"]["message"]


def test_exhausted_deployments_are_skipped_then_named(gateway_process, spawn_upstream) -> None:
    east, west = spawn_upstream(), spawn_upstream()
    config = {
        "auth": {"master_key": MASTER_KEY},
        "routing": {"strategy": "priority"},
        "models": [
            {
                "name": "demo",
                "deployments": [
                    deployment(east.base_url(), id="east", limits={"rpm": 1}),
                    deployment(west.base_url(), id="west", limits={"rpm": 1, "tpm": 100_000}),
                ],
            }
        ],
    }
    gateway = gateway_process(config)
    first, second = chat(gateway.base_url), chat(gateway.base_url)
    assert first.headers["x-gateway-deployment"] == "east"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert second.headers["x-gateway-deployment"] == "west"
    assert second.headers["x-ratelimit-limit-tokens"] == "100000"
    third = chat(gateway.base_url)
    assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limit_exceeded"
    message = third.json()["error"]["message"]
    assert "deployment east" in message and "deployment west" in message
    assert east.stats()["requests"] == 1 and west.stats()["requests"] == 1


def test_a_third_party_strategy_counts_per_end_user(gateway_process, mock_upstream, tmp_path):
    site = install_test_plugin(
        tmp_path / "site", "end_user_limits", "tests.plugins.end_user_limits"
    )
    config = {
        "auth": {"master_key": MASTER_KEY},
        "plugins": ["end_user_limits"],
        "limits": {"rules": [{"strategy": "end_user_rpd", "scope": "key", "limit": 2}]},
        "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())]}],
    }
    gateway = gateway_process(config, env=plugin_env(site))
    alice = [chat(gateway.base_url, user="alice").status_code for _ in range(3)]
    assert alice == [200, 200, 429]
    refused = chat(gateway.base_url, user="alice").json()["error"]
    assert "requests per day per end user" in refused["message"]
    assert chat(gateway.base_url, user="bob").status_code == 200
    assert all(chat(gateway.base_url).status_code == 200 for _ in range(3))


def test_workers_without_redis_are_warned_about(gateway_process, mock_upstream) -> None:
    config = {
        "auth": {"master_key": MASTER_KEY},
        "limits": {"default_rpm": 100},
        "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())]}],
    }
    gateway = gateway_process(config, workers=2)
    assert chat(gateway.base_url).status_code == 200
    assert "limits are counted per worker process: 2 workers without Redis" in gateway.log()
