"""Real HTTP through the gateway's public endpoint against recorded Azure OpenAI exchanges.

Every file in fixtures/ is a contract case run by the kit in gateway_core.testing: the gateway
runs as a child process with this plugin enabled, the recorded answers come from a loopback
server, and the official openai SDK is the client.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gateway_core.testing import ContractKit, Exchange, load_cases

pytestmark = pytest.mark.e2e

CASES = load_cases(Path(__file__).parent / "fixtures")
API_KEY = "azure-test-key-5b1f0c2d9e"
TENANT = "4f1c2b9e-7d3a-4e58-9b60-2c8d5a1e7f43"
ENTRA_ID = {
    "tenant_id": TENANT,
    "client_id": "8b2e6c1d-5a4f-4f3e-a7d9-3c1b0e6f2a85",
    "client_secret": "entra-test-secret-8a7c6b5d",
    "authority_host": "{upstream}",
}
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QifQ.test-access-token.c2lnbmF0dXJl"


def azure(**keys: Any) -> dict[str, Any]:
    return {
        "provider": "azure",
        "endpoint": "{upstream}",
        "deployment": "gpt-4o-prod",
        "api_key": API_KEY,
        **keys,
    }


DEPLOYMENTS = {
    "gpt-4o": azure(),
    "gpt-4o-v1": azure(url_style="v1"),
    "gpt-4o-preview": azure(api_version="2025-04-01-preview"),
    "gpt-4o-entra": azure(api_key=None, entra_id=ENTRA_ID),
    "embedding": azure(deployment="text-embedding-3-small"),
}


@pytest.fixture(scope="module")
def kit(contract_kit) -> ContractKit:
    return contract_kit(
        plugins=["azure"], deployments=DEPLOYMENTS, cases=CASES, secrets=[ACCESS_TOKEN]
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_recorded_exchange(kit: ContractKit, case) -> None:
    kit.check(case)


def test_concurrent_first_requests_share_one_entra_token(tmp_path: Path) -> None:
    token_endpoint = Exchange.model_validate(
        {
            "request": {"path": f"/{TENANT}/oauth2/v2.0/token"},
            # A slow identity service widens the window in which requests pile up.
            "response": {
                "delay": 0.5,
                "json": {"token_type": "Bearer", "expires_in": 3599, "access_token": ACCESS_TOKEN},
            },
            "times": None,
        }
    )
    completion = Exchange.model_validate(
        {
            "request": {"path": "/openai/deployments/gpt-4o-prod/chat/completions"},
            "response": {"json": chat_completion("fine")},
            "times": None,
        }
    )
    deployments = {"entra": azure(api_key=None, entra_id=ENTRA_ID)}
    with ContractKit(plugins=["azure"], deployments=deployments, directory=tmp_path) as kit:
        armed = kit.upstream.arm([token_endpoint, completion])
        client = kit.client()

        def ask(number: int) -> str | None:
            reply = client.chat.completions.create(
                model=kit.model("entra"), messages=[{"role": "user", "content": str(number)}]
            )
            return reply.choices[0].message.content

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(ask, range(12)))
        assert answers == ["fine"] * 12
        assert len(armed.received[0]) == 1, "one token fetch served every waiting request"
        assert {r.headers["authorization"] for r in armed.received[1]} == {f"Bearer {ACCESS_TOKEN}"}
        assert len(armed.received[1]) == 12
        assert not kit.leaks()


def chat_completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-BQ60l1Mn3Op5Qr7St9Uv1Wx3Yz5",
        "object": "chat.completion",
        "created": 1745913000,
        "model": "gpt-4o-2024-11-20",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
    }
