"""The contract kit's OpenAI checks: well-formed replies pass, every kind of breakage is named."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.contract import ClientRequest, Reply, read_reply

SSE = httpx.Headers({"content-type": "text/event-stream", "x-request-id": "req_1"})
JSON = httpx.Headers({"content-type": "application/json", "x-request-id": "req_1"})
MESSAGES = [{"role": "user", "content": "hi"}]
Chunks = list[dict[str, Any]]


def stream_request(include_usage: bool) -> ClientRequest:
    body: dict[str, Any] = {"messages": MESSAGES, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return ClientRequest(body=body)


def frame(chunks: Chunks, done: bool = True) -> bytes:
    events = [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks]
    return b"".join(events) + (b"data: [DONE]\n\n" if done else b"")


@st.composite
def openai_streams(draw: st.DrawFn) -> tuple[bool, Chunks, str, str | None]:
    """A well-formed stream: (include_usage, chunks, text, tool call arguments or None)."""
    include_usage = draw(st.booleans())
    texts = draw(st.lists(st.text(min_size=1, max_size=8), max_size=6))
    values = st.integers(min_value=-1000, max_value=1000)
    arguments = draw(st.one_of(st.none(), st.dictionaries(st.text(max_size=5), values)))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        made = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1745913200,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return {**made, "usage": None} if include_usage else made

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": text}) for text in texts]
    joined = None
    if arguments is not None:
        joined = orjson.dumps(arguments).decode()
        first = {"index": 0, "id": "call_1", "type": "function"}
        chunks.append(
            chunk({"tool_calls": [{**first, "function": {"name": "f", "arguments": ""}}]})
        )
        offsets = draw(st.lists(st.integers(1, max(len(joined) - 1, 1)), max_size=4))
        bounds = [0, *sorted(set(offsets)), len(joined)]
        for start, end in itertools.pairwise(bounds):
            fragment = {"index": 0, "function": {"arguments": joined[start:end]}}
            chunks.append(chunk({"tool_calls": [fragment]}))
    chunks.append(chunk({}, "tool_calls" if arguments is not None else "stop"))
    if include_usage:
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        chunks.append({**chunk({}), "choices": [], "usage": usage})
    return include_usage, chunks, "".join(texts), joined


@settings(max_examples=150, deadline=None)
@given(openai_streams())
def test_well_formed_streams_pass_and_are_summed_up(stream) -> None:
    include_usage, chunks, text, arguments = stream
    summary, problems = read_reply(stream_request(include_usage), Reply(200, SSE, frame(chunks)))
    assert problems == []
    assert summary.content == text
    assert summary.finish_reason == ("tool_calls" if arguments is not None else "stop")
    assert [call["arguments"] for call in summary.tool_calls] == (
        [arguments] if arguments is not None else []
    )
    assert (summary.usage is not None) == include_usage


def _last_choice_chunk(chunks: Chunks) -> dict[str, Any]:
    return next(chunk for chunk in reversed(chunks) if chunk["choices"])


def _flip_usage(chunks: Chunks) -> None:
    """Drop the usage chunk the client asked for, or add one it did not ask for."""
    if chunks[-1]["choices"] == []:
        chunks.pop()
    else:
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        chunks.append({**chunks[0], "choices": [], "usage": usage})


def _late_content(chunks: Chunks) -> None:
    late = {**copy.deepcopy(chunks[0]), "choices": [{"index": 0, "delta": {"content": "late"}}]}
    chunks.insert(len(chunks) - (1 if chunks[-1]["choices"] == [] else 0), late)


BREAKAGES: dict[str, Callable[[Chunks], bytes | None]] = {
    "no [DONE]": lambda chunks: frame(chunks, done=False),
    "CRLF separators": lambda chunks: frame(chunks).replace(b"\n\n", b"\r\n\r\n"),
    "events after [DONE]": lambda chunks: frame(chunks) + frame(chunks[:1], done=False),
    "a chunk with another id": lambda chunks: chunks[-1].update(id="chatcmpl-2"),
    "an empty id": lambda chunks: chunks[0].update(id=""),
    "created zero": lambda chunks: chunks[0].update(created=0),
    "a prompt-filter chunk": lambda chunks: chunks.insert(
        0, {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    ),
    "a choice without delta": lambda chunks: _last_choice_chunk(chunks)["choices"][0].pop("delta"),
    "a made-up finish reason": lambda chunks: _last_choice_chunk(chunks)["choices"][0].update(
        finish_reason="done"
    ),
    "no finish reason": lambda chunks: _last_choice_chunk(chunks)["choices"][0].update(
        finish_reason=None
    ),
    "no role first": lambda chunks: chunks[0]["choices"][0]["delta"].pop("role"),
    "usage not asked for, or missing": _flip_usage,
    "content after the finish": _late_content,
}


@settings(max_examples=60, deadline=None)
@given(openai_streams(), st.sampled_from(sorted(BREAKAGES)))
def test_every_breakage_of_a_stream_is_reported(stream, breakage: str) -> None:
    include_usage, chunks, _text, _arguments = stream
    chunks = copy.deepcopy(chunks)
    body = BREAKAGES[breakage](chunks)
    body = body if isinstance(body, bytes) else frame(chunks)
    _summary, problems = read_reply(stream_request(include_usage), Reply(200, SSE, body))
    assert problems, f"{breakage} went unnoticed"


def test_tool_call_fragments_must_name_the_call_and_join_up_to_json() -> None:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [
        chunk({"role": "assistant", "tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"a": '}}]}),
        chunk({}, "tool_calls"),
    ]
    _summary, problems = read_reply(stream_request(False), Reply(200, SSE, frame(chunks)))
    assert any("the first fragment of a tool call has its id" in p for p in problems)
    assert any("the first fragment has the name" in p for p in problems)
    assert any("do not join up to JSON" in p for p in problems)


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1745913200,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
}


def check_completion(body: Any, headers: httpx.Headers = JSON) -> list[str]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    request = ClientRequest(body={"messages": MESSAGES})
    return read_reply(request, Reply(200, headers, raw))[1]


def test_a_well_formed_completion_passes() -> None:
    assert check_completion(COMPLETION) == []


def _with(path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(COMPLETION)
    target: Any = changed
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return changed


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_with("object", "chat.completion.chunk"), "body.object"),
        (_with("choices", []), "body.choices: expected a non-empty array"),
        (_with("choices.0.finish_reason", None), "is not an OpenAI finish reason"),
        (_with("choices.0.finish_reason", "tool_calls"), "there are no tool calls"),
        (_with("choices.0.message.role", "model"), "message.role"),
        (_with("choices.0.message.content", ["a"]), "expected a string or null"),
        (_with("usage", KeyError), "body.usage: expected an object"),
        (_with("usage.total_tokens", 4), "total_tokens is not prompt_tokens + completion_tokens"),
        (_with("usage.prompt_tokens", True), "must be whole numbers"),
        (
            _with("choices.0.message.tool_calls", [{"id": "", "type": "fn", "function": {}}]),
            "function.name",
        ),
        (b"<html>Bad Gateway</html>", "body: not JSON"),
    ],
)
def test_broken_completions_are_named(body: Any, problem: str) -> None:
    problems = check_completion(body)
    assert any(problem in line for line in problems), problems


def test_headers_are_part_of_the_contract() -> None:
    problems = check_completion(COMPLETION, httpx.Headers({"content-type": "text/plain"}))
    assert "headers: no X-Request-ID" in problems
    assert any("not application/json" in line for line in problems)


def check_error(status: int, body: Any, **headers: str) -> list[str]:
    raw = orjson.dumps(body)
    reply = Reply(status, httpx.Headers({**JSON, **headers}), raw)
    return read_reply(ClientRequest(body={"messages": MESSAGES}), reply)[1]


def test_errors_have_the_openai_shape_and_a_type_that_fits_the_status() -> None:
    good = {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": "x"}
    }
    assert check_error(429, good, **{"retry-after": "3"}) == []
    assert any("does not go with HTTP 502" in p for p in check_error(502, good))
    assert any("keys are" in p for p in check_error(429, {"error": {"message": "m", "type": "t"}}))
    assert any("expected {'error'" in p for p in check_error(500, {"detail": "boom"}))
    assert any("Retry-After" in p for p in check_error(429, good, **{"retry-after": "0.5"}))


def test_embeddings_are_counted_and_sized() -> None:
    request = ClientRequest(operation="embeddings", body={"input": ["a", "b"]})
    body = {
        "object": "list",
        "model": "e",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            {"object": "embedding", "index": 0, "embedding": [0.1]},
        ],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    summary, problems = read_reply(request, Reply(200, JSON, orjson.dumps(body)))
    assert any("data[1].index: expected 1" in p for p in problems)
    assert any("different sizes" in p for p in problems)
    assert summary.embeddings == 2
    one = ClientRequest(operation="embeddings", body={"input": "a"})
    problems = read_reply(one, Reply(200, JSON, orjson.dumps(body)))[1]
    assert any("2 embeddings for 1 inputs" in p for p in problems)
