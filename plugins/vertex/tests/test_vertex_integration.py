"""Real HTTP through the gateway's public endpoint against recorded Vertex AI exchanges.

Every file in fixtures/ is a contract case run by the kit in gateway_core.testing: the gateway
runs as a child process with this plugin enabled, the recorded answers come from a loopback
server, and the official openai SDK is the client. Every deployment signs in for real: its
service-account assertion is signed with a key made for this run and verified by the loopback
token endpoint, which the kit puts in front of every case.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from vertex_fakes import (
    ACCESS_TOKEN,
    pem_secret_line,
    service_account_info,
    service_account_json,
    token_endpoint,
)

from gateway_core.testing import ContractCase, ContractKit, Exchange, load_cases

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN_PATH = "/token"
MODEL_PATH = "/v1/projects/acme-prod/locations/us-central1/publishers/google/models"


def with_token_endpoint(case: ContractCase) -> ContractCase:
    """The case, with the token endpoint first unless the case records its own."""
    if any(exchange.request.path == TOKEN_PATH for exchange in case.upstream):
        return case
    return case.model_copy(update={"upstream": [token_endpoint(TOKEN_PATH), *case.upstream]})


CASES = [with_token_endpoint(case) for case in load_cases(FIXTURES)]


def vertex(**keys: Any) -> dict[str, Any]:
    return {
        "provider": "vertex",
        "model": "gemini-2.5-flash",
        "project": "acme-prod",
        "location": "us-central1",
        "endpoint": "{upstream}",
        # The kit puts its URL into the key's token_uri as everywhere else.
        "credentials": {"type": "service_account", "key": service_account_json("{upstream}/token")},
        **keys,
    }


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A key whose own token_uri is Google's: the deployments using it override token_url.
    path = tmp_path_factory.mktemp("vertex-keys") / "service-account.json"
    path.write_text(orjson.dumps(service_account_info()).decode())
    return path


def deployments(key_file: Path) -> dict[str, dict[str, Any]]:
    from_file = {
        "type": "service_account",
        "key_file": str(key_file),
        "token_url": "{upstream}/token",
    }
    return {
        "gemini": vertex(),
        "gemini-3-global": vertex(
            model="gemini-3-pro-preview", location="global", credentials=from_file
        ),
        "gemini-adc": vertex(
            credentials={"type": "application_default", "token_url": "{upstream}/token"}
        ),
        "gemini-json-schema": vertex(schemas="json_schema"),
        "embedding": vertex(model="text-embedding-005", embedding_task_type="RETRIEVAL_QUERY"),
    }


@pytest.fixture(scope="module")
def kit(contract_kit, key_file: Path) -> ContractKit:
    return contract_kit(
        plugins=["vertex"],
        deployments=deployments(key_file),
        cases=CASES,
        secrets=[ACCESS_TOKEN, pem_secret_line()],
        env={"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)},
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_recorded_exchange(kit: ContractKit, case: ContractCase) -> None:
    kit.check(case)


def test_thought_signatures_survive_the_round_trip_through_the_tool_call_id(
    kit: ContractKit,
) -> None:
    """Gemini 3 signs its function calls and wants the signature back in the next turn; an
    OpenAI client keeps only the tool call's id, so the id is where the signature travels."""
    signature = "CiQB0e2Kb+Pq3x/Vn8Lr1Tw==" * 12
    path = f"{MODEL_PATH}/gemini-2.5-flash:generateContent"
    call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    first = Exchange.model_validate(
        {
            "request": {"path": path},
            "response": {
                "json": {
                    "candidates": [
                        {
                            "content": {
                                "role": "model",
                                "parts": [
                                    {**call, "thoughtSignature": signature},
                                    {"functionCall": {"name": "get_time", "args": {}}},
                                ],
                            },
                            "finishReason": "STOP",
                        }
                    ],
                    "usageMetadata": {"promptTokenCount": 30, "totalTokenCount": 42},
                }
            },
        }
    )
    kit.upstream.arm([token_endpoint(TOKEN_PATH), first])
    client = kit.client()
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in ("get_weather", "get_time")
    ]
    question = {"role": "user", "content": "Weather and time in Paris?"}
    reply = client.chat.completions.create(
        model=kit.model("gemini"), messages=[question], tools=tools
    )
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in message.tool_calls] == ["get_weather", "get_time"]
    signed, unsigned = (c.id for c in message.tool_calls)
    assert signature not in signed, "the signature travels encoded, not verbatim"

    second = Exchange.model_validate(
        {
            "request": {
                "path": path,
                "json": {
                    "contents": [
                        {"role": "user"},
                        {
                            "role": "model",
                            "parts": [
                                {**call, "thoughtSignature": signature},
                                {"functionCall": {"name": "get_time", "args": {}}},
                            ],
                        },
                        {
                            "role": "user",
                            "parts": [
                                {"functionResponse": {"name": "get_weather"}},
                                {"functionResponse": {"name": "get_time"}},
                            ],
                        },
                    ]
                },
                "check": only_the_first_call_is_signed,
            },
            "response": {
                "json": {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": "Sunny, 14:05."}]},
                            "finishReason": "STOP",
                        }
                    ],
                    "usageMetadata": {"promptTokenCount": 60, "totalTokenCount": 65},
                }
            },
        }
    )
    armed = kit.upstream.arm([token_endpoint(TOKEN_PATH), second])
    history = [
        question,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": signed, "content": '{"sky": "sunny"}'},
        {"role": "tool", "tool_call_id": unsigned, "content": "14:05"},
    ]
    answer = client.chat.completions.create(
        model=kit.model("gemini"), messages=history, tools=tools
    )
    assert answer.choices[0].message.content == "Sunny, 14:05."
    assert armed.problems() == []
    assert not kit.leaks()


def only_the_first_call_is_signed(received: Any) -> None:
    model_turn = received.json()["contents"][1]["parts"]
    assert "thoughtSignature" not in model_turn[1], "the unsigned call gained a signature"


def test_concurrent_first_requests_share_one_token(tmp_path: Path) -> None:
    slow_token = token_endpoint(
        TOKEN_PATH,
        delay=0.5,  # a slow token service widens the window in which requests pile up
        json={"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"},
    )
    answer = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "fine"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    }
    generate = Exchange.model_validate(
        {
            "request": {"path": f"{MODEL_PATH}/gemini-2.5-flash:generateContent"},
            "response": {"json": answer},
            "times": None,
        }
    )
    with ContractKit(
        plugins=["vertex"], deployments={"gemini": vertex()}, directory=tmp_path
    ) as kit:
        armed = kit.upstream.arm([slow_token, generate])
        client = kit.client()

        def ask(number: int) -> str | None:
            reply = client.chat.completions.create(
                model=kit.model("gemini"), messages=[{"role": "user", "content": str(number)}]
            )
            return reply.choices[0].message.content

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(ask, range(12)))
        assert answers == ["fine"] * 12
        assert len(armed.received[0]) == 1, "one token fetch served every waiting request"
        assert {r.headers["authorization"] for r in armed.received[1]} == {f"Bearer {ACCESS_TOKEN}"}
        assert armed.problems() == []
        assert not kit.leaks()
