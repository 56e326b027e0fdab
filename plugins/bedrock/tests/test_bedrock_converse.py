"""OpenAI chat bodies as Converse bodies: examples, refusals, and properties over conversations."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from gateway_bedrock.converse import ConverseOptions, converse_request, tool_use_id
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import InvalidRequest

PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
DEFAULT = ConverseOptions()


def convert(body: dict[str, Any], options: ConverseOptions = DEFAULT) -> dict[str, Any]:
    return converse_request(body, options)


def refusal(body: dict[str, Any], options: ConverseOptions = DEFAULT) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        converse_request(body, options)
    assert caught.value.status == 400
    return caught.value


def test_system_text_and_image_with_sampling_settings() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
                ],
            },
        ],
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "\n\nHuman:",
    }
    assert convert(body) == {
        "system": [{"text": "You are terse."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "What is in this image?"},
                    {"image": {"format": "png", "source": {"bytes": PIXEL}}},
                ],
            }
        ],
        "inferenceConfig": {
            "maxTokens": 50,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["\n\nHuman:"],
        },
    }


def test_a_tool_round_trip_groups_results_into_one_user_message() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        },
    ]
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "cloudy, 4 degrees"},
            {"role": "user", "content": "Which is warmer?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
    }
    request = convert(body)
    assert request["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking both."},
                {
                    "toolUse": {
                        "toolUseId": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "call_2",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp_c": 18}}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "cloudy, 4 degrees"}]}},
                {"text": "Which is warmer?"},
            ],
        },
    ]
    assert request["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]},
                }
            }
        ],
        "toolChoice": {"auto": {}},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": choice,
    }
    assert convert(body)["toolConfig"]["toolChoice"] == expected


def test_tool_choice_none_leaves_tools_out_when_the_history_allows() -> None:
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "none",
    }
    assert "toolConfig" not in convert(body)


def test_tools_used_earlier_but_not_declared_are_declared_for_bedrock() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": ""},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": ""},
        ],
        "tool_choice": "none",
    }
    request = convert(body)
    assert request["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "c1", "name": "lookup", "input": {}}}
    ]
    assert request["messages"][2]["content"][0]["toolResult"]["content"] == [{"text": "(empty)"}]
    (spec,) = request["toolConfig"]["tools"]
    assert spec["toolSpec"]["name"] == "lookup"
    assert spec["toolSpec"]["inputSchema"] == {"json": {"type": "object", "properties": {}}}
    assert "toolChoice" not in request["toolConfig"]


def test_developer_messages_anywhere_become_system_blocks_and_blanks_vanish() -> None:
    body = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rule one."}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "  "}, {"type": "text", "text": "Hi"}],
            },
            {"role": "assistant", "content": ""},
            {"role": "system", "content": "Rule two."},
            {"role": "user", "content": "Again"},
        ],
    }
    request = convert(body)
    assert request["system"] == [{"text": "Rule one."}, {"text": "Rule two."}]
    assert request["messages"] == [{"role": "user", "content": [{"text": "Hi"}, {"text": "Again"}]}]


def test_max_completion_tokens_wins_and_lists_of_stops_pass() -> None:
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 7,
        "max_tokens": 99,
        "stop": ["END", ""],
    }
    assert convert(body)["inferenceConfig"] == {"maxTokens": 7, "stopSequences": ["END"]}


def test_a_temperature_above_one_is_refused_or_clamped_as_configured() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "temperature": 1.5}
    error = refusal(body)
    assert error.param == "temperature"
    assert "between 0 and 1" in error.message
    assert convert(body, ConverseOptions("clamp"))["inferenceConfig"] == {"temperature": 1}
    assert refusal({**body, "temperature": 2.5}, ConverseOptions("clamp")).param == "temperature"


def test_additional_model_request_fields_are_passed_on() -> None:
    options = ConverseOptions(additional_model_request_fields={"top_k": 40})
    request = convert({"messages": [{"role": "user", "content": "Hi"}]}, options)
    assert request["additionalModelRequestFields"] == {"top_k": 40}


def user(content: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**user("Hi"), "n": 2}, "n"),
        ({**user("Hi"), "logprobs": True}, "logprobs"),
        ({**user("Hi"), "response_format": {"type": "json_object"}}, "response_format"),
        ({**user("Hi"), "top_p": 1.5}, "top_p"),
        ({**user("Hi"), "max_tokens": 0}, "max_tokens"),
        ({**user("Hi"), "stop": [1]}, "stop"),
        (
            user([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]),
            "messages[0].content[0].image_url",
        ),
        (
            user([{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]),
            "messages[0].content[0].image_url",
        ),
        (user([{"type": "input_audio", "input_audio": {}}]), "messages[0].content[0]"),
        ({"messages": [{"role": "assistant", "content": "Hello"}]}, "messages"),
        ({"messages": [{"role": "system", "content": "Be nice."}]}, "messages"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            {**user("Hi"), "tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
        (
            {
                **user("Hi"),
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "other"}},
            },
            "tool_choice",
        ),
        ({**user("Hi"), "tool_choice": "required"}, "tool_choice"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "tool", "tool_call_id": "x", "content": "1"},
                ]
            },
            "messages",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_what_bedrock_cannot_take_is_refused_naming_the_field(
    body: dict[str, Any], param: str
) -> None:
    assert refusal(body).param == param


def test_foreign_tool_call_ids_are_made_safe_consistently_and_distinctly() -> None:
    assert tool_use_id("call_Ab9.x:y-z") == "call_Ab9.x:y-z"
    odd = tool_use_id("call/with spaces#1")
    assert re.fullmatch(r"[a-zA-Z0-9_.:-]{1,64}", odd)
    assert odd == tool_use_id("call/with spaces#1")
    assert odd != tool_use_id("call/with spaces#2")
    assert len(tool_use_id("x" * 200)) <= 64
    assert tool_use_id("x" * 200) != tool_use_id("x" * 199)


# -- properties ------------------------------------------------------------------------------

BLOCK_KEYS = {"text", "image", "toolUse", "toolResult"}
words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20
).filter(str.strip)
blanks = st.sampled_from(["", " ", "\n"])
call_ids = st.one_of(
    st.from_regex(r"call_[A-Za-z0-9]{4,24}", fullmatch=True),
    st.text(min_size=1, max_size=80),  # anything another provider might have used
)
tool_names = st.sampled_from(["get_weather", "search", "lookup-user", "calc_2"])


def text_content(allow_blank_parts: bool = True) -> st.SearchStrategy[Any]:
    part = st.builds(lambda t: {"type": "text", "text": t}, words)
    blank_part = st.builds(lambda t: {"type": "text", "text": t}, blanks)
    parts = st.lists(st.one_of(part, blank_part) if allow_blank_parts else part, max_size=3)
    return st.one_of(
        words,
        st.tuples(part, parts).map(lambda pair: [pair[0], *pair[1]]),
    )


image_part = st.builds(
    lambda fmt: {"type": "image_url", "image_url": {"url": f"data:image/{fmt};base64,{PIXEL}"}},
    st.sampled_from(["png", "jpeg", "jpg", "gif", "webp"]),
)
user_message = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, text_content()),
    st.builds(
        lambda c, images: {"role": "user", "content": [*c, *images]},
        st.lists(st.builds(lambda t: {"type": "text", "text": t}, words), min_size=1, max_size=2),
        st.lists(image_part, max_size=2),
    ),
)
system_message = st.builds(
    lambda role, c: {"role": role, "content": c},
    st.sampled_from(["system", "developer"]),
    text_content(),
)


@st.composite
def tool_turn(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An assistant message with tool calls, then one tool message per call."""
    ids = draw(st.lists(call_ids, min_size=1, max_size=3, unique=True))
    calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {
                "name": draw(tool_names),
                "arguments": orjson.dumps(
                    draw(st.dictionaries(words, st.integers(-(2**40), 2**40), max_size=2))
                ).decode(),
            },
        }
        for call_id in ids
    ]
    content = draw(st.one_of(st.none(), st.just(""), words))
    turn = [{"role": "assistant", "content": content, "tool_calls": calls}]
    for call_id in ids:
        result = draw(
            st.one_of(
                words,
                blanks,
                st.dictionaries(words, st.integers(-(2**40), 2**40), max_size=2).map(
                    lambda d: orjson.dumps(d).decode()
                ),
                st.lists(
                    st.builds(lambda t: {"type": "text", "text": t}, words), min_size=1, max_size=2
                ),
            )
        )
        turn.append({"role": "tool", "tool_call_id": call_id, "content": result})
    return turn


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = draw(st.lists(system_message, max_size=2))
    for _ in range(draw(st.integers(1, 4))):
        messages.append(draw(user_message))
        if draw(st.booleans()):
            messages.append(draw(system_message))
        kind = draw(st.sampled_from(["none", "text", "tools", "tools-then-text"]))
        if kind == "text":
            messages.append(
                {"role": "assistant", "content": draw(text_content(allow_blank_parts=False))}
            )
        elif kind.startswith("tools"):
            messages += draw(tool_turn())
            if kind == "tools-then-text":
                messages.append({"role": "assistant", "content": draw(words)})
    body: dict[str, Any] = {"messages": messages}
    declared = draw(st.lists(tool_names, unique=True, max_size=3))
    if declared:
        body["tools"] = [
            {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in declared
        ]
        body["tool_choice"] = draw(
            st.sampled_from(
                [
                    "none",
                    "auto",
                    "required",
                    *[{"type": "function", "function": {"name": n}} for n in declared],
                ]
            )
        )
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 2))
    if draw(st.booleans()):
        body["top_p"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(1, 8192))
    if draw(st.booleans()):
        body["stop"] = draw(st.one_of(words, st.lists(st.one_of(words, st.just("")), max_size=4)))
    return body


def converse_problems(request: dict[str, Any]) -> list[str]:
    """What Bedrock's Converse would refuse in ``request`` (its documented constraints)."""
    problems: list[str] = []
    orjson.dumps(request)
    for block in request.get("system", []):
        if set(block) != {"text"} or not block["text"].strip():
            problems.append(f"system block {block!r}")
    messages = request["messages"]
    if not messages or messages[0]["role"] != "user":
        problems.append("the first message is not the user's")
    used_names = set()
    previous_uses: list[str] = []
    for number, message in enumerate(messages):
        if number and messages[number - 1]["role"] == message["role"]:
            problems.append(f"messages {number - 1} and {number} have the same role")
        if not message["content"]:
            problems.append(f"message {number} is empty")
        results = []
        seen_other = False
        for block in message["content"]:
            if len(block) != 1 or not set(block) <= BLOCK_KEYS:
                problems.append(f"message {number}: bad block {list(block)}")
                continue
            if "text" in block and not block["text"].strip():
                problems.append(f"message {number}: blank text")
            if "toolUse" in block:
                use = block["toolUse"]
                if message["role"] != "assistant":
                    problems.append(f"message {number}: toolUse outside an assistant message")
                if not re.fullmatch(r"[a-zA-Z0-9_.:-]{1,64}", use["toolUseId"]):
                    problems.append(f"message {number}: toolUseId {use['toolUseId']!r}")
                if not isinstance(use["input"], dict):
                    problems.append(f"message {number}: toolUse input is not an object")
                used_names.add(use["name"])
            if "toolResult" in block:
                if message["role"] != "user" or seen_other:
                    problems.append(f"message {number}: toolResult misplaced")
                results.append(block["toolResult"]["toolUseId"])
                for item in block["toolResult"]["content"]:
                    if "text" in item and not item["text"].strip():
                        problems.append(f"message {number}: blank tool result")
            else:
                seen_other = True
        if results and sorted(results) != sorted(previous_uses):
            problems.append(f"message {number}: results {results} answer {previous_uses}")
        previous_uses = [b["toolUse"]["toolUseId"] for b in message["content"] if "toolUse" in b]
    config = request.get("toolConfig")
    if used_names and config is None:
        problems.append("tool blocks without toolConfig")
    if config is not None:
        declared = {t["toolSpec"]["name"] for t in config["tools"]}
        if not config["tools"] or not used_names <= declared:
            problems.append(f"toolConfig declares {declared}, history uses {used_names}")
        for tool in config["tools"]:
            if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool["toolSpec"]["name"]):
                problems.append(f"tool name {tool['toolSpec']['name']!r}")
            if not isinstance(tool["toolSpec"]["inputSchema"]["json"], dict):
                problems.append("tool schema is not an object")
        named = config.get("toolChoice", {}).get("tool", {}).get("name")
        if named is not None and named not in declared:
            problems.append(f"toolChoice names undeclared {named}")
    inference = request.get("inferenceConfig", {})
    if not 0 <= inference.get("temperature", 0) <= 1 or not 0 <= inference.get("topP", 0) <= 1:
        problems.append(f"sampling out of range {inference}")
    if any(not s for s in inference.get("stopSequences", [])) or inference.get("maxTokens", 1) < 1:
        problems.append(f"bad limits {inference}")
    return problems


def texts_of(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for part in content or []:
            if part.get("type") == "text" and part["text"].strip():
                found.append(part["text"])
    return found


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_any_valid_openai_conversation_maps_to_a_valid_converse_body(body: dict[str, Any]) -> None:
    options = ConverseOptions("clamp")
    request = converse_request(body, options)
    assert converse_problems(request) == []
    conversation = [m for m in body["messages"] if m["role"] in ("user", "assistant")]
    mapped_texts = [b["text"] for m in request["messages"] for b in m["content"] if "text" in b]
    assert mapped_texts == texts_of(conversation), "every text arrives, in order"
    system = [m for m in body["messages"] if m["role"] in ("system", "developer")]
    assert [b["text"] for b in request.get("system", [])] == texts_of(system)
    calls = [c for m in body["messages"] for c in m.get("tool_calls") or []]
    uses = [b["toolUse"] for m in request["messages"] for b in m["content"] if "toolUse" in b]
    assert [u["toolUseId"] for u in uses] == [tool_use_id(c["id"]) for c in calls]
    assert [u["name"] for u in uses] == [c["function"]["name"] for c in calls]
    assert [u["input"] for u in uses] == [orjson.loads(c["function"]["arguments"]) for c in calls]


@settings(deadline=None)
@given(conversations())
def test_the_translation_never_changes_the_clients_body(body: dict[str, Any]) -> None:
    before = orjson.dumps(body)
    converse_request(body, ConverseOptions("clamp"))
    assert orjson.dumps(body) == before, "the router may hand the same body to another deployment"
