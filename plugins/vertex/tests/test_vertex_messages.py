"""The mapping from OpenAI messages to Gemini contents, checked on generated conversations.

Properties: nothing is lost or reordered; turns alternate and are never empty; every function
response is named after the call it answers; thought signatures come back from the ids; the
client's body is never changed; and malformed input is only ever refused with a 400.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import orjson
import pytest
from gateway_vertex.call_ids import new_call_id, thought_signature
from gateway_vertex.config import VertexConfig
from gateway_vertex.messages import SKIP_SIGNATURE, conversation
from gateway_vertex.request import generate_content_request
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import InvalidRequest

TEXT = st.text(min_size=1, max_size=12)
NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
SCALAR = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=6)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
ARGS = st.dictionaries(st.text(max_size=5), JSON_VALUE, max_size=3)
SIGNATURE = st.none() | st.text(min_size=1, max_size=40)
CONFIG = VertexConfig(model="gemini-2.5-flash", project="p", location="global")


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Any], list[str]]:
    """(messages, the parts Gemini should receive in order, the system texts)."""
    messages: list[dict[str, Any]] = []
    expected: list[Any] = []
    system: list[str] = []
    for _turn in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["system", "user", "user_parts", "assistant", "calls"]))
        if kind == "system":
            text = draw(TEXT)
            role = draw(st.sampled_from(["system", "developer"]))
            messages.append({"role": role, "content": text})
            system.append(text)
        elif kind == "user":
            text = draw(TEXT)
            messages.append({"role": "user", "content": text})
            expected.append(("user", {"text": text}))
        elif kind == "user_parts":
            texts = draw(st.lists(TEXT, min_size=1, max_size=3))
            parts = [{"type": "text", "text": text} for text in texts]
            messages.append({"role": "user", "content": parts})
            expected += [("user", {"text": text}) for text in texts]
        elif kind == "assistant":
            text = draw(TEXT)
            messages.append({"role": "assistant", "content": text})
            expected.append(("model", {"text": text}))
        else:
            _tool_round(draw, messages, expected)
    if not expected:
        text = draw(TEXT)
        messages.append({"role": "user", "content": text})
        expected.append(("user", {"text": text}))
    return messages, expected, system


def _tool_round(draw: st.DrawFn, messages: list[Any], expected: list[Any]) -> None:
    """An assistant message with tool calls, then one tool message per call, in any order."""
    calls = draw(st.lists(st.tuples(NAME, ARGS, SIGNATURE), min_size=1, max_size=3))
    tool_calls = []
    for name, args, signature in calls:
        call_id = new_call_id(signature)
        tool_calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": orjson.dumps(args).decode()},
            }
        )
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        if signature:
            part["thoughtSignature"] = signature
        expected.append(("model", part))
    messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
    order = draw(st.permutations(range(len(calls))))
    for position in order:
        if draw(st.booleans()):
            response = draw(ARGS)
            result = orjson.dumps(response).decode()
        else:
            result = draw(TEXT.filter(lambda text: not _is_json_object(text)))
            response = {"content": result}
        messages.append(
            {"role": "tool", "tool_call_id": tool_calls[position]["id"], "content": result}
        )
        name = calls[position][0]
        expected.append(("user", {"functionResponse": {"name": name, "response": response}}))


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_every_message_arrives_in_order_in_alternating_non_empty_turns(case) -> None:
    messages, expected, system = case
    talk = conversation(messages)
    flattened = [(content["role"], part) for content in talk.contents for part in content["parts"]]
    assert flattened == expected
    roles = [content["role"] for content in talk.contents]
    assert all(a != b for a, b in itertools.pairwise(roles)), roles
    assert all(content["parts"] for content in talk.contents)
    if system:
        assert talk.system == {"parts": [{"text": text} for text in system]}
    else:
        assert talk.system is None


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_the_clients_body_is_read_never_changed(case) -> None:
    body = {"messages": case[0], "temperature": 0.5, "stop": ["x"]}
    before = copy.deepcopy(body)
    generate_content_request(body, CONFIG)
    assert body == before


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_a_signature_survives_the_round_trip_through_an_id(signature: str) -> None:
    call_id = new_call_id(signature)
    assert re.fullmatch(r"call_[0-9a-f]{24}(__ts_[A-Za-z0-9_-]+)?", call_id)
    assert thought_signature(call_id) == (signature or None)


@pytest.mark.parametrize(
    "foreign",
    ["call_7wQ2mZpL4xRt9VbN1cKs3Hd", "toolu_01A09q90qw90lq917835", "call_x__ts_", "__ts_!!"],
)
def test_ids_made_elsewhere_carry_no_signature(foreign: str) -> None:
    assert thought_signature(foreign) is None


def test_unsigned_calls_get_googles_placeholder_only_when_configured() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
            ],
        },
    ]
    plain = conversation(messages).contents[1]["parts"]
    assert all("thoughtSignature" not in part for part in plain)
    patched = conversation(messages, skip_missing_signatures=True).contents[1]["parts"]
    assert [part.get("thoughtSignature") for part in patched] == [SKIP_SIGNATURE, None]


MESSAGE_LIKE = st.dictionaries(
    st.sampled_from(["role", "content", "tool_calls", "tool_call_id", "name"]),
    st.sampled_from(["user", "assistant", "tool", "system", "function"]) | JSON_VALUE,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGE_LIKE | JSON_VALUE, max_size=5))
def test_malformed_messages_are_refused_with_a_400_and_nothing_else(messages: list[Any]) -> None:
    try:
        conversation(messages)
    except InvalidRequest as refused:
        assert refused.status == 400
        assert refused.param is not None and refused.param.startswith("messages")


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "function", "content": "x"}, "messages[0].role"),
        ({"role": "user", "content": [{"type": "video_url"}]}, "messages[0].content[0]"),
        (
            {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]},
            "messages[0].content[0].file",
        ),
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA"}}]},
            "messages[0].content[0]",
        ),
        (
            {
                "role": "system",
                "content": [{"type": "image_url", "image_url": {"url": "gs://b/a.png"}}],
            },
            "messages[0].content[0]",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_what_vertex_cannot_take_is_refused_naming_the_field(
    message: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        conversation([message, {"role": "user", "content": "go on"}])
    assert refused.value.param == param


def test_media_parts() -> None:
    content = [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
    ]
    talk = conversation([{"role": "user", "content": content}])
    assert talk.contents[0]["parts"] == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}},
    ]


def test_generation_parameters_and_their_refusals() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "stop": "END",
        "n": 2,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "parallel_tool_calls": False,
        "user": "someone",
    }
    request = generate_content_request(body, CONFIG)
    assert request["generationConfig"] == {
        "maxOutputTokens": 20,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
    }
    assert set(request) == {"contents", "generationConfig"}
    with pytest.raises(InvalidRequest) as refused:
        generate_content_request({**body, "logprobs": True}, CONFIG)
    assert refused.value.param == "logprobs"
    with pytest.raises(InvalidRequest) as refused:
        generate_content_request({**body, "response_format": {"type": "yaml"}}, CONFIG)
    assert refused.value.param == "response_format"


def test_tools_that_are_not_functions_or_badly_named_are_refused() -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(InvalidRequest) as refused:
        generate_content_request({**base, "tools": [{"type": "web_search"}]}, CONFIG)
    assert refused.value.param == "tools[0]"
    bad_name = {"type": "function", "function": {"name": "9 lives"}}
    with pytest.raises(InvalidRequest) as refused:
        generate_content_request({**base, "tools": [bad_name]}, CONFIG)
    assert refused.value.param == "tools[0].function.name"
    good = {"type": "function", "function": {"name": "f"}}
    with pytest.raises(InvalidRequest) as refused:
        generate_content_request({**base, "tools": [good], "tool_choice": "sometimes"}, CONFIG)
    assert refused.value.param == "tool_choice"
    request = generate_content_request({**base, "tools": [good], "tool_choice": "none"}, CONFIG)
    assert request["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
