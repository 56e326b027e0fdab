"""ConverseStream frames to OpenAI chunks, judged by the contract kit's own stream reader."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from bedrock_frames import error, event, exception, metadata, text_stream, tool_stream
from gateway_bedrock.eventstream import EventStreamDecoder
from gateway_bedrock.stream import ConverseStreamTranslator
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import ProviderCall, UpstreamError, UpstreamRateLimited
from gateway_core.contract.cases import ClientRequest
from gateway_core.contract.exchanges import cut
from gateway_core.contract.shapes import Reply, Summary
from gateway_core.contract.streams import read_stream


def call(include_usage: bool) -> ProviderCall:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return ProviderCall("chat", body, orjson.dumps(body), "claude", True, "req-7f3a")


def translate(pieces: list[bytes], include_usage: bool = True) -> tuple[bytes, bool]:
    """The SSE bytes for the pieces, and whether the stream reached its end marker."""
    decoder = EventStreamDecoder()
    translator = ConverseStreamTranslator(call(include_usage), "bedrock-1")
    out = b"".join(translator.feed(m) for piece in pieces for m in decoder.feed(piece))
    return out, translator.finished


def judged(sse: bytes, include_usage: bool = True) -> Summary:
    """The stream as a client would read it; fails on any breach of the OpenAI contract."""
    request = ClientRequest(body=call(include_usage).body)
    reply = Reply(
        200, httpx.Headers({"content-type": "text/event-stream"}), sse + b"data: [DONE]\n\n"
    )
    problems: list[str] = []
    summary = read_stream(request, reply, problems)
    assert problems == []
    return summary


def chunks(sse: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(event[6:]) for event in sse.split(b"\n\n") if event]


def test_a_text_answer_with_usage() -> None:
    sse, finished = translate(text_stream("Hello there"))
    assert finished
    summary = judged(sse)
    assert (summary.content, summary.finish_reason) == ("Hello there", "stop")
    assert summary.usage == {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
    sent = chunks(sse)
    assert sent[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["usage"] is None for c in sent[:-1])
    assert sent[-1]["choices"] == []
    assert {c["id"] for c in sent} == {"chatcmpl-req-7f3a"}
    assert {c["model"] for c in sent} == {"claude"}


def test_no_usage_chunk_unless_asked() -> None:
    sse, finished = translate(text_stream("Hello"), include_usage=False)
    assert finished
    judged(sse, include_usage=False)
    assert all("usage" not in c for c in chunks(sse))


def test_a_tool_call_streams_its_arguments_in_fragments() -> None:
    sse, _ = translate(tool_stream())
    summary = judged(sse)
    assert summary.content == "Checking."
    assert summary.finish_reason == "tool_calls"
    assert summary.tool_calls == [
        {"id": "tooluse_w3Kq8", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    ]
    first = chunks(sse)[2]["choices"][0]["delta"]["tool_calls"][0]
    assert first == {
        "index": 0,
        "id": "tooluse_w3Kq8",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }


def test_a_tool_call_without_input_gets_an_empty_object() -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t1", "name": "now"}}},
        ),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t2", "name": "today"}}},
        ),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event("messageStop", {"stopReason": "tool_use"}),
        metadata(5, 9),
    ]
    summary = judged(translate(frames)[0])
    assert [(c["name"], c["arguments"]) for c in summary.tool_calls] == [
        ("now", "{}"),
        ("today", "{}"),
    ]


def test_reasoning_and_unknown_events_are_dropped_and_cached_tokens_counted() -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}},
        ),
        event("somethingNew", {"x": 1}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "42"}}),
        event("messageStop", {"stopReason": "max_tokens"}),
        metadata(10, 2, cacheReadInputTokens=30, cacheWriteInputTokens=5),
    ]
    summary = judged(translate(frames)[0])
    assert (summary.content, summary.finish_reason) == ("42", "length")
    assert summary.usage == {
        "prompt_tokens": 45,
        "completion_tokens": 2,
        "total_tokens": 47,
        "prompt_tokens_details": {"cached_tokens": 30},
    }


def test_the_stream_is_unfinished_until_metadata_arrives() -> None:
    frames = text_stream()
    sse, finished = translate(frames[:-1])
    assert not finished
    assert chunks(sse)[-1]["choices"][0]["finish_reason"] == "stop"


def test_an_exception_mid_stream_raises_the_mapped_error() -> None:
    decoder = EventStreamDecoder()
    translator = ConverseStreamTranslator(call(True), "bedrock-1")
    frames = [*text_stream()[:2], exception("throttlingException", "Too many tokens.")]
    out = b""
    with pytest.raises(UpstreamRateLimited) as caught:
        for message in decoder.feed(b"".join(frames)):
            out += translator.feed(message)
    assert caught.value.message == "Too many tokens."
    assert caught.value.headers["Retry-After"] == "2"
    assert b"Hello" in out


@pytest.mark.parametrize(
    ("frame", "status", "code"),
    [
        (exception("modelStreamErrorException", "The model failed."), 502, "upstream_error"),
        (exception("validationException", "Input is too long."), 400, "context_length_exceeded"),
        (exception("serviceUnavailableException", "Busy."), 503, "service_unavailable"),
        (error("InternalFailure", "An internal error occurred."), 502, "upstream_error"),
    ],
    ids=["model-error", "too-long", "unavailable", "generic-error"],
)
def test_in_stream_faults(frame: bytes, status: int, code: str) -> None:
    decoder = EventStreamDecoder()
    translator = ConverseStreamTranslator(call(True), "bedrock-1")
    with pytest.raises(Exception) as caught:
        for message in decoder.feed(frame):
            translator.feed(message)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_tool_input_for_an_unknown_block_is_an_upstream_error() -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
    ]
    with pytest.raises(UpstreamError, match="unannounced"):
        translate(frames)


@settings(deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8),
    offsets=st.lists(st.integers(min_value=1, max_value=4000), max_size=40),
    include_usage=st.booleans(),
)
def test_any_network_cut_gives_the_same_valid_stream(
    texts: list[str], offsets: list[int], include_usage: bool
) -> None:
    frames = [
        event("messageStart", {"role": "assistant", "p": "abc"}),
        *[
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}})
            for t in texts
        ],
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        metadata(3, len(texts)),
    ]
    whole, _ = translate(frames, include_usage)
    pieces, finished = translate(cut(b"".join(frames), offsets), include_usage)
    assert finished
    assert pieces == whole
    summary = judged(pieces, include_usage)
    assert summary.content == "".join(texts)
