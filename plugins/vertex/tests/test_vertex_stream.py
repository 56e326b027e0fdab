"""Gemini streams to OpenAI chunks: whatever the network does to the CRLF-framed body, the
client gets a stream that keeps the OpenAI contract and says what Gemini said."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from gateway_vertex.stream import StreamTranslator, data_payloads
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import InvalidRequest, ProviderCall
from gateway_core.contract import ClientRequest, Reply, read_reply
from gateway_core.contract.exchanges import cut
from gateway_core.sse import DONE_EVENT, complete_events

CRLF = b"\r\n\r\n"


def call(include_usage: bool) -> ProviderCall:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return ProviderCall("chat", body, orjson.dumps(body), "gemini", True, "req_7")


async def _pieces(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def translate(pieces: list[bytes], include_usage: bool) -> tuple[bytes, StreamTranslator]:
    """Run the adapter's reading loop over network pieces; return the OpenAI SSE body."""
    translator = StreamTranslator(call(include_usage))

    async def run() -> bytes:
        out = b""
        async for lines in complete_events(_pieces(pieces), separator=b"\n"):
            for payload in data_payloads(lines):
                out += translator.feed(orjson.loads(payload))
        return out + translator.close()

    return asyncio.run(run()), translator


def checked(body: bytes, include_usage: bool) -> Any:
    """The contract kit's reading of the stream as a client would get it; no problems allowed."""
    request = ClientRequest.model_validate({"body": call(include_usage).body})
    reply = Reply(
        200,
        httpx.Headers({"content-type": "text/event-stream", "x-request-id": "req_7"}),
        body + DONE_EVENT,
    )
    summary, problems = read_reply(request, reply)
    assert problems == []
    return summary


PART = st.one_of(
    st.text(min_size=1, max_size=15).map(lambda text: {"text": text}),
    st.text(min_size=1, max_size=8).map(lambda text: {"text": text, "thought": True}),
    st.fixed_dictionaries(
        {
            "functionCall": st.fixed_dictionaries(
                {
                    "name": st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                    "args": st.dictionaries(st.text(max_size=4), st.integers(-99, 99), max_size=2),
                }
            )
        }
    ),
)
FINISH = st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "OTHER", "RECITATION"])


@st.composite
def gemini_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    chunks = draw(st.lists(st.lists(PART, max_size=3), min_size=1, max_size=5))
    events: list[dict[str, Any]] = [
        {
            "candidates": [{"content": {"role": "model", "parts": parts}}],
            "usageMetadata": {"trafficType": "ON_DEMAND"},
            "responseId": "r1",
        }
        for parts in chunks
    ]
    events[-1]["candidates"][0]["finishReason"] = draw(FINISH)
    prompt, output = draw(st.integers(0, 500)), draw(st.integers(0, 500))
    events[-1]["usageMetadata"] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }
    return events


def framed(events: list[dict[str, Any]]) -> bytes:
    # Google puts spaces after colons and commas; the adapter must not care.
    return b"".join(
        b"data: " + json.dumps(event, separators=(", ", ": "), ensure_ascii=False).encode() + CRLF
        for event in events
    )


@settings(max_examples=200, deadline=None)
@given(gemini_streams(), st.lists(st.integers(1, 4000), max_size=30), st.booleans())
def test_any_cut_of_any_stream_gives_one_correct_openai_stream(
    events: list[dict[str, Any]], offsets: list[int], include_usage: bool
) -> None:
    whole = framed(events)
    body, translator = translate(cut(whole, offsets), include_usage)
    assert translator.complete
    summary = checked(body, include_usage)
    parts = [part for event in events for part in event["candidates"][0]["content"]["parts"]]
    texts = [part["text"] for part in parts if "text" in part and not part.get("thought")]
    calls = [part["functionCall"] for part in parts if "functionCall" in part]
    assert summary.content == ("".join(texts) if texts else (None if calls else ""))
    assert [(c["name"], orjson.loads(c["arguments"])) for c in summary.tool_calls] == [
        (c["name"], c["args"]) for c in calls
    ]
    reason = events[-1]["candidates"][0]["finishReason"]
    expected = {"MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter"}
    assert summary.finish_reason == expected.get(reason, "tool_calls" if calls else "stop")
    if include_usage:
        total = events[-1]["usageMetadata"]["totalTokenCount"]
        assert summary.usage["total_tokens"] == total


def test_several_candidates_stream_as_several_choices() -> None:
    events = [
        {"candidates": [{"index": 0, "content": {"parts": [{"text": "A"}]}},
                        {"index": 1, "content": {"parts": [{"text": "B"}]}}]},
        {"candidates": [{"index": 1, "content": {"parts": [{"text": "b"}]},
                         "finishReason": "STOP"}]},
        {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "MAX_TOKENS"}],
         "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 7}},
    ]  # fmt: skip
    body, translator = translate([framed(events)], include_usage=True)
    assert translator.complete
    checked(body, include_usage=True)
    chunks = [orjson.loads(line[6:]) for line in body.split(b"\n\n") if line]
    by_choice: dict[int, str] = {}
    finishes = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            by_choice[choice["index"]] = by_choice.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
            if choice["finish_reason"]:
                finishes[choice["index"]] = choice["finish_reason"]
    assert by_choice == {0: "Aa", 1: "Bb"}
    assert finishes == {0: "length", 1: "stop"}
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_a_stream_without_a_finish_reason_is_incomplete() -> None:
    events = [{"candidates": [{"content": {"parts": [{"text": "1, 2"}]}}]}]
    _body, translator = translate([framed(events)], include_usage=False)
    assert not translator.complete
    assert not translate([b""], include_usage=False)[1].complete


def test_a_blocked_prompt_raises_before_any_chunk() -> None:
    translator = StreamTranslator(call(False))
    with pytest.raises(InvalidRequest) as blocked:
        translator.feed({"promptFeedback": {"blockReason": "BLOCKLIST"}})
    assert (blocked.value.code, blocked.value.status) == ("content_filter", 400)
    assert "BLOCKLIST" in blocked.value.message


def test_data_lines_are_read_whatever_the_line_endings() -> None:
    run = b'data: {"a": 1}\r\n\r\n: a comment\nevent: message\ndata:{"b":2}\n\nretry: 5\n'
    run += b"data: [DONE]\n\n"
    assert data_payloads(run) == [b'{"a": 1}', b'{"b":2}']
