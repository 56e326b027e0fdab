"""The stream cleaner: Azure's filter bookkeeping never reaches a client, real chunks always do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from gateway_azure.events import AzureStreamCleaner
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.contract import ClientRequest, Reply, read_reply
from gateway_core.contract.exchanges import cut
from gateway_core.sse import DONE_EVENT, complete_events, encode_event

ID, CREATED, MODEL = "chatcmpl-BQ7", 1745913100, "gpt-4o-2024-11-20"
PROMPT_FILTER = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
PROMPT_FILTER["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]


def event(payload: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(payload))


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "content_filter_results": {}}
    return {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [choice],
        **extra,
    }


def annotation(finish: str | None = None) -> dict[str, Any]:
    choice = {
        "index": 0,
        "finish_reason": finish,
        "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 9},
        "content_filter_results": {"violence": {"filtered": finish is not None}},
    }
    return {"choices": [choice], "created": 0, "id": "", "model": "", "object": ""}


def clean(*events: bytes) -> bytes:
    return AzureStreamCleaner("chatcmpl-req_1", "gpt-4o")(b"".join(events))


def test_the_prompt_filter_chunk_is_dropped() -> None:
    assert clean(event(PROMPT_FILTER)) == b""


def test_real_chunks_pass_byte_for_byte() -> None:
    run = event(chunk({"role": "assistant", "content": ""})) + event(chunk({"content": "Hi"}))
    assert AzureStreamCleaner("x", "m")(run) is run


def test_the_usage_chunk_is_kept() -> None:
    usage = {**chunk({}), "choices": [], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
    assert clean(event(PROMPT_FILTER), event(usage)) == event(usage)


def test_annotations_without_a_finish_are_dropped() -> None:
    real = event(chunk({"content": "Hi"}))
    assert clean(real, event(annotation()), real) == real + real


def test_a_blocking_annotation_becomes_a_finish_chunk_with_the_stream_id() -> None:
    out = clean(event(chunk({"role": "assistant", "content": "Once"})), event(annotation("x")))
    finish = orjson.loads(out.split(b"\n\n")[1].removeprefix(b"data: "))
    assert (finish["id"], finish["created"], finish["model"]) == (ID, CREATED, MODEL)
    assert finish["object"] == "chat.completion.chunk"
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "x"}]


def test_a_block_before_any_real_chunk_uses_the_fallback_identity() -> None:
    out = clean(event(PROMPT_FILTER), event(annotation("content_filter")))
    finish = orjson.loads(out.removeprefix(b"data: "))
    assert (finish["id"], finish["model"]) == ("chatcmpl-req_1", "gpt-4o")
    assert finish["created"] > 0


def test_what_is_not_a_chunk_is_left_alone() -> None:
    error = event({"error": {"message": "boom", "type": "server_error"}})
    comment = b": keep-alive\n\n"
    assert clean(error, comment) == error + comment


# --------------------------------------------------------------------------- properties


@st.composite
def azure_streams(draw: st.DrawFn) -> tuple[list[bytes], str, bool, bool]:
    """An Azure stream (as events, without [DONE]), its text, whether it was blocked, and
    whether it carries usage."""
    texts = draw(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
    blocked = draw(st.booleans())
    with_usage = draw(st.booleans()) and not blocked
    events = [event(PROMPT_FILTER), event(chunk({"role": "assistant", "content": ""}))]
    for text in texts:
        events.append(event(chunk({"content": text})))
        if draw(st.booleans()):
            events.append(event(annotation()))
    events.append(event(annotation("content_filter") if blocked else chunk({}, "stop")))
    if draw(st.booleans()):
        events.append(event(annotation()))  # a late annotation, after the finish
    if with_usage:
        usage = {"prompt_tokens": 5, "completion_tokens": len(texts), "total_tokens": 5}
        usage["total_tokens"] += len(texts)
        events.append(event({**chunk({}), "choices": [], "usage": usage}))
    return events, "".join(texts), blocked, with_usage


async def _pieces(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def through_the_adapter(pieces: list[bytes]) -> bytes:
    """What the client gets: pieces regrouped into whole events, then cleaned, as in the adapter."""

    async def run() -> bytes:
        cleaner = AzureStreamCleaner("chatcmpl-req_1", "gpt-4o")
        return b"".join([cleaner(run) async for run in complete_events(_pieces(pieces))])

    return asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(azure_streams(), st.lists(st.integers(min_value=1, max_value=4000), max_size=30))
def test_any_split_gives_a_stream_that_keeps_the_openai_contract(
    stream: tuple[list[bytes], str, bool, bool], offsets: list[int]
) -> None:
    events, text, blocked, with_usage = stream
    whole = b"".join(events)
    cleaned = through_the_adapter(cut(whole, offsets))
    assert cleaned == through_the_adapter([whole]), "where the network cuts must not matter"

    body = {"messages": [{"role": "user", "content": "x"}], "stream": True}
    if with_usage:
        body["stream_options"] = {"include_usage": True}
    headers = httpx.Headers({"content-type": "text/event-stream", "x-request-id": "req_1"})
    summary, problems = read_reply(
        ClientRequest(body=body), Reply(200, headers, cleaned + DONE_EVENT)
    )
    assert problems == []
    assert summary.content == text
    assert summary.finish_reason == ("content_filter" if blocked else "stop")
