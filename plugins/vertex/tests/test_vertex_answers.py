"""Gemini answers, usage and errors in OpenAI's terms, and embeddings requests and replies."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest
from gateway_vertex.answers import completion
from gateway_vertex.config import VertexConfig
from gateway_vertex.embeddings import (
    batches,
    embedding_inputs,
    embeddings_response,
    predict_request,
    read_predictions,
)
from gateway_vertex.errors import map_vertex_error, read_google_error
from gateway_vertex.outcomes import finish_reason, openai_usage
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.api import (
    InvalidRequest,
    ProviderCall,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

CALL = ProviderCall("chat", {}, b"{}", "gemini", False, "req_9")
CONFIG = VertexConfig(model="text-embedding-005", project="p", location="us-central1")


def answer(*candidates: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return orjson.loads(completion({"candidates": list(candidates), **extra}, CALL, "d/0"))


def test_several_candidates_become_choices_in_index_order() -> None:
    body = answer(
        {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"},
        {"content": {"parts": [{"text": "A"}]}, "finishReason": "MAX_TOKENS"},
    )
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "A", "length"),
        (1, "B", "stop"),
    ]
    assert body["id"] == "chatcmpl-req_9" and body["model"] == "gemini"


def test_text_and_tool_calls_together() -> None:
    body = answer(
        {
            "content": {
                "parts": [
                    {"text": "Checking. "},
                    {"functionCall": {"name": "lookup", "args": {"q": "é"}}},
                    {"text": "One moment."},
                ]
            },
            "finishReason": "STOP",
        }
    )
    message = body["choices"][0]["message"]
    assert message["content"] == "Checking. One moment."
    assert message["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q":"é"}'}
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_an_answer_without_candidates_is_an_upstream_failure() -> None:
    with pytest.raises(UpstreamError, match="without a candidate"):
        completion({"usageMetadata": {}}, CALL, "d/0")
    with pytest.raises(InvalidRequest) as blocked:
        completion({"promptFeedback": {"blockReason": "<b>weird</b>"}}, CALL, "d/0")
    assert blocked.value.code == "content_filter"
    assert "weird" not in blocked.value.message


@pytest.mark.parametrize(
    ("reason", "called", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        (None, True, "tool_calls"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", True, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("OTHER", False, "stop"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("SOMETHING_NEW", False, "stop"),
    ],
)
def test_finish_reasons(reason: str | None, called: bool, expected: str) -> None:
    assert finish_reason(reason, called) == expected


COUNT = st.none() | st.integers(0, 10**6)


@given(COUNT, COUNT, COUNT, COUNT, COUNT, COUNT)
def test_usage_always_adds_up(prompt, tool_use, candidates, thoughts, cached, total) -> None:
    names = (
        "promptTokenCount",
        "toolUsePromptTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "cachedContentTokenCount",
        "totalTokenCount",
    )
    values = (prompt, tool_use, candidates, thoughts, cached, total)
    meta = {name: value for name, value in zip(names, values, strict=True) if value is not None}
    usage = openai_usage(meta)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert min(usage["prompt_tokens"], usage["completion_tokens"]) >= 0
    assert usage["prompt_tokens"] == (prompt or 0) + (tool_use or 0)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == (thoughts or 0)


def test_usage_counts_thinking_as_completion() -> None:
    usage = openai_usage(
        {
            "promptTokenCount": 8,
            "candidatesTokenCount": 7,
            "thoughtsTokenCount": 24,
            "totalTokenCount": 39,
        }
    )
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        8,
        31,
        39,
    )
    assert openai_usage(None)["total_tokens"] == 0


# -- errors -------------------------------------------------------------------------------


def error(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return map_vertex_error(status, read_google_error(raw), headers or {}, "gemini/0", 2.0)


def test_rate_limits_always_get_a_wait() -> None:
    exhausted = {
        "error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}
    }
    plain = error(429, exhausted)
    assert isinstance(plain, UpstreamRateLimited) and plain.retry_after == 2.0
    assert plain.headers["Retry-After"] == "2"
    assert error(429, exhausted, {"retry-after": "9"}).retry_after == 9.0
    assert error(429, b"<html>Too many</html>").retry_after == 2.0
    # The array form that streams without alt=sse use, with Google's RetryInfo.
    listed = [{"error": {**exhausted["error"], "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]}}]  # fmt: skip
    assert error(429, listed).retry_after == 31.0


def test_other_statuses() -> None:
    disabled = {
        "error": {
            "code": 403,
            "message": "Vertex AI API has not been used in project 123 before or it is disabled.",
            "status": "PERMISSION_DENIED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}
            ],
        }
    }
    forbidden = error(403, disabled)
    assert forbidden.code == "upstream_authentication_error" and forbidden.status == 502
    assert "not enabled" in forbidden.message
    unauthenticated = error(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    assert unauthenticated.code == "upstream_authentication_error"
    assert isinstance(error(504, {}), UpstreamTimeout)
    invalid = error(
        400, {"error": {"code": 400, "message": "Bad schema.", "status": "INVALID_ARGUMENT"}}
    )
    assert isinstance(invalid, InvalidRequest)
    assert (invalid.status, invalid.code, invalid.message) == (
        400,
        "invalid_request",
        "Bad schema.",
    )
    internal = error(
        500, {"error": {"code": 500, "message": "Internal error.", "status": "INTERNAL"}}
    )
    assert type(internal) is UpstreamError and internal.retryable and internal.status == 502


# -- embeddings ---------------------------------------------------------------------------


def test_embedding_inputs_and_batches() -> None:
    assert embedding_inputs({"input": "one"}) == ["one"]
    assert batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    for bad in ([1, 2, 3], [[1, 2]], [], None, ["a", 3]):
        with pytest.raises(InvalidRequest) as refused:
            embedding_inputs({"input": bad})
        assert refused.value.param == "input"


def test_predict_request_carries_the_options() -> None:
    config = CONFIG.model_copy(update={"embedding_auto_truncate": False})
    request = orjson.loads(predict_request(["x"], {"dimensions": 64}, config))
    assert request == {
        "instances": [{"content": "x"}],
        "parameters": {"outputDimensionality": 64, "autoTruncate": False},
    }


def test_predictions_must_match_the_instances() -> None:
    answer_body = {
        "predictions": [{"embeddings": {"values": [0.5], "statistics": {"token_count": 2}}}]
    }
    assert read_predictions(answer_body, 1, "e/0") == [([0.5], 2)]
    with pytest.raises(UpstreamError, match="1 embeddings for 2 inputs"):
        read_predictions(answer_body, 2, "e/0")


@given(
    st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=20)
)
def test_base64_embeddings_decode_to_the_same_float32s(values: list[float]) -> None:
    body = orjson.loads(embeddings_response([(values, 1)], {"encoding_format": "base64"}, CALL))
    packed = base64.b64decode(body["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(values)}f", packed)) == values
