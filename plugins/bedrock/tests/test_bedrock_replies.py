"""Converse answers as chat.completion bodies: content, tool calls, stop reasons, usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from gateway_bedrock.replies import chat_completion, finish_reason, openai_usage
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import ProviderCall, UpstreamError
from gateway_core.usage.records import usage_from_body

CALL = ProviderCall("chat", {"messages": []}, b"{}", "claude-haiku", False, "req-91b2")


def answer(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 31, "outputTokens": 8, "totalTokens": 39, **usage},
        "metrics": {"latencyMs": 618},
    }


def completion(reply: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(chat_completion(reply, CALL, "bedrock-1"))


def test_text_answer() -> None:
    body = completion(answer([{"text": "A single "}, {"text": "red pixel."}]))
    assert body["id"] == "chatcmpl-req-91b2"
    assert body["object"] == "chat.completion"
    assert body["model"] == "claude-haiku"
    (choice,) = body["choices"]
    assert choice["message"] == {
        "role": "assistant",
        "content": "A single red pixel.",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 31, "completion_tokens": 8, "total_tokens": 39}


def test_tool_use_answer_has_json_string_arguments() -> None:
    use = {"toolUseId": "tooluse_5gJ0", "name": "get_weather", "input": {"city": "Paris"}}
    body = completion(answer([{"text": "Let me check."}, {"toolUse": use}], stop="tool_use"))
    message = body["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["tool_calls"] == [
        {
            "id": "tooluse_5gJ0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    only_tools = completion(answer([{"toolUse": use}], stop="tool_use"))
    assert only_tools["choices"][0]["message"]["content"] is None


def test_the_core_reads_the_usage_it_needs() -> None:
    body = chat_completion(answer([{"text": "x"}], cacheReadInputTokens=100), CALL, "d")
    usage = usage_from_body(body)
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens) == (
        131,
        8,
        100,
    )


@pytest.mark.parametrize(
    ("stop", "called", "expected"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("tool_use", False, "stop"),
        ("guardrail_intervened", False, "content_filter"),
        ("content_filtered", False, "content_filter"),
        ("malformed_model_output", False, "stop"),
        ("malformed_tool_use", True, "stop"),
        ("something_new", False, "stop"),
        (None, False, "stop"),
    ],
)
def test_stop_reasons(stop: Any, called: bool, expected: str) -> None:
    assert finish_reason(stop, called_tools=called) == expected


counts = st.integers(min_value=0, max_value=10**7)


@settings(deadline=None)
@given(fresh=counts, output=counts, read=st.none() | counts, write=st.none() | counts)
def test_usage_always_adds_up(fresh: int, output: int, read: int | None, write: int | None) -> None:
    usage: dict[str, Any] = {"inputTokens": fresh, "outputTokens": output, "totalTokens": 1}
    if read is not None:
        usage["cacheReadInputTokens"] = read
    if write is not None:
        usage["cacheWriteInputTokens"] = write
    mapped = openai_usage(usage)
    assert mapped is not None
    assert mapped["prompt_tokens"] == fresh + (read or 0) + (write or 0)
    assert mapped["completion_tokens"] == output
    assert mapped["total_tokens"] == mapped["prompt_tokens"] + mapped["completion_tokens"]
    assert ("prompt_tokens_details" in mapped) == (read is not None)


@pytest.mark.parametrize("usage", [None, {}, {"inputTokens": "3", "outputTokens": 1}, [1, 2]])
def test_unreadable_usage_is_left_out(usage: Any) -> None:
    assert openai_usage(usage) is None
    reply = answer([{"text": "x"}])
    reply["usage"] = usage
    assert "usage" not in completion(reply)


@pytest.mark.parametrize("reply", [{}, [], {"output": {"message": {"content": "text"}}}])
def test_an_answer_without_a_message_is_an_upstream_error(reply: Any) -> None:
    with pytest.raises(UpstreamError, match="without an output message"):
        chat_completion(reply, CALL, "bedrock-1")
