"""The contract kit end to end, run against the built-in OpenAI-compatible adapter.

Good exchanges pass; an upstream that breaks the OpenAI contract, a request that does not reach
the upstream as recorded, a reply that differs from the case and a leaked secret all fail, each
with the problem named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway_core.testing import ContractCase, ContractKit, ContractViolation, load_cases

pytestmark = pytest.mark.e2e

UPSTREAM_KEY = "sk-upstream-key-4c2d1e0f"
GOOD = load_cases(Path(__file__).parent / "contract_cases")
ANSWER = {
    "id": "chatcmpl-K9",
    "object": "chat.completion",
    "created": 1745913399,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def case(name: str, upstream: list[dict[str, Any]], **rest: Any) -> ContractCase:
    send = rest.pop("send", {"body": {"messages": [{"role": "user", "content": "hi"}]}})
    return ContractCase.model_validate({"name": name, "send": send, "upstream": upstream, **rest})


AZURE_STYLE_STREAM = case(
    "azure_style_stream",
    [
        {
            "response": {
                "stream": {
                    "events": [
                        {"choices": [], "created": 0, "id": "", "model": "", "object": ""},
                        {
                            **ANSWER,
                            "object": "chat.completion.chunk",
                            "choices": [
                                {"index": 0, "delta": {"role": "assistant", "content": "hi"}}
                            ],
                        },
                        {
                            "choices": [{"index": 0, "finish_reason": "stop"}],
                            "id": "",
                            "created": 0,
                            "model": "",
                            "object": "",
                        },
                    ]
                }
            }
        }
    ],
    send={"body": {"messages": [{"role": "user", "content": "hi"}], "stream": True}},
)
WRONG_PATH = case(
    "wrong_path", [{"request": {"path": "/v1/responses"}, "response": {"json": ANSWER}}]
)
WRONG_REQUEST = case(
    "wrong_request",
    [
        {
            "request": {
                "headers": {"authorization": "Bearer someone-else"},
                "json": {"model": "gpt-4o", "temperature": 1},
            },
            "response": {"json": ANSWER},
        }
    ],
)
WRONG_ANSWER = case(
    "wrong_answer",
    [{"response": {"json": ANSWER}}],
    expect={"content": "goodbye", "finish_reason": "length", "usage": {"total_tokens": 3}},
)
LEAKY_UPSTREAM = case(
    "leaky_upstream",
    [
        {
            "response": {
                "status": 400,
                "json": {"error": {"message": f"Key {UPSTREAM_KEY} may not use this model."}},
            }
        }
    ],
    expect={"status": 400},
)
BAD = [AZURE_STYLE_STREAM, WRONG_PATH, WRONG_REQUEST, WRONG_ANSWER, LEAKY_UPSTREAM]


@pytest.fixture(scope="module")
def kit(contract_kit) -> ContractKit:
    deployment = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": "{upstream}/v1",
        "api_key": UPSTREAM_KEY,
    }
    return contract_kit(plugins=[], deployments={"openai": deployment}, cases=[*GOOD, *BAD])


@pytest.mark.parametrize("good", GOOD, ids=str)
def test_exchanges_that_keep_the_contract_pass(kit: ContractKit, good: ContractCase) -> None:
    result = kit.check(good)
    assert result.requests(), "the upstream was called"


def violations(kit: ContractKit, bad: ContractCase) -> str:
    with pytest.raises(ContractViolation) as caught:
        kit.check(bad)
    return "\n".join(caught.value.problems)


def test_an_upstream_that_breaks_the_stream_contract_is_caught(kit: ContractKit) -> None:
    problems = violations(kit, AZURE_STYLE_STREAM)
    assert "chunk 0: no choices and no usage" in problems
    assert "chunk 0.id: expected a non-empty string" in problems
    assert "chunk 2.choices[0].delta: missing" in problems


def test_a_request_sent_elsewhere_is_caught(kit: ContractKit) -> None:
    problems = violations(kit, WRONG_PATH)
    assert "upstream exchange 0 (any method /v1/responses): expected 1 request(s), received 0" in (
        problems
    )
    assert "unexpected upstream request POST /v1/chat/completions" in problems
    assert "status: expected 200, got 502" in problems


def test_a_request_mapped_wrongly_is_caught(kit: ContractKit) -> None:
    problems = violations(kit, WRONG_REQUEST)
    assert "header authorization: expected 'Bearer s...(19 chars)'" in problems
    assert 'json.model: expected "gpt-4o", got "gpt-4o-mini"' in problems
    assert "json.temperature: missing (expected 1)" in problems


def test_a_reply_that_differs_from_the_case_is_caught(kit: ContractKit) -> None:
    problems = violations(kit, WRONG_ANSWER)
    assert 'content: expected "goodbye", got "hello"' in problems
    assert 'finish_reason: expected "length", got "stop"' in problems
    assert "usage.total_tokens: expected 3, got 2" in problems


def test_a_secret_in_a_reply_is_caught(kit: ContractKit) -> None:
    problems = violations(kit, LEAKY_UPSTREAM)
    assert "secret leak: the response body contains a secret (sk-u...)" in problems


def test_only_cases_given_at_start_can_run(kit: ContractKit) -> None:
    with pytest.raises(KeyError, match="was not given to the kit"):
        kit.check(case("late", []))


def test_a_case_must_name_a_known_deployment(tmp_path: Path) -> None:
    stray = case("stray", [], deployment="nowhere")
    kit = ContractKit(
        plugins=[],
        deployments={"openai": {"provider": "openai", "model": "m", "base_url": "{upstream}"}},
        cases=[stray],
        directory=tmp_path,
    )
    with pytest.raises(
        ValueError, match="case 'stray': no deployment 'nowhere' \\(known: openai\\)"
    ):
        kit.start()
