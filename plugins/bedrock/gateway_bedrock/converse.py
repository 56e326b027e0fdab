"""OpenAI chat requests as Bedrock Converse request bodies (no I/O).

Converse differs from OpenAI's format in ways a model notices, so each is handled here:

* system and developer messages move to the top-level ``system`` list, in order;
* messages must alternate ``user``/``assistant`` and start with ``user``: neighbours of the
  same role are merged, and tool results (OpenAI ``tool`` messages) become ``toolResult``
  blocks of one user message, ahead of any text that follows them;
* tool calls become ``toolUse`` blocks whose ``input`` is the parsed arguments object, and
  Bedrock requires ``toolConfig`` whenever the conversation holds such blocks, even if the
  request declares no tools;
* temperature is 0-1 on Bedrock (0-2 on OpenAI); blank text blocks are rejected, so none is sent;
* images must travel as bytes: data URLs are accepted, web URLs are refused with a 400.

What Bedrock cannot do is refused with an :class:`InvalidRequest` naming the field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from gateway_core.api import InvalidRequest

IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
DATA_URL = re.compile(r"^data:image/([A-Za-z]+);base64,(.+)$", re.DOTALL)
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
#: A tool result must say something: Bedrock rejects blank text.
EMPTY_RESULT = "(empty)"


@dataclass(frozen=True, slots=True)
class ConverseOptions:
    """The deployment's choices that shape request bodies."""

    temperature_above_one: Literal["reject", "clamp"] = "reject"
    additional_model_request_fields: dict[str, Any] = field(default_factory=dict)


def converse_request(body: dict[str, Any], options: ConverseOptions) -> dict[str, Any]:
    """The Converse (or ConverseStream) body for an OpenAI chat request body."""
    _refuse_unsupported(body)
    system, messages = _conversation(body["messages"])
    request: dict[str, Any] = {"messages": messages}
    if system:
        request["system"] = system
    inference = _inference_config(body, options)
    if inference:
        request["inferenceConfig"] = inference
    tool_config = _tool_config(body, messages)
    if tool_config is not None:
        request["toolConfig"] = tool_config
    if options.additional_model_request_fields:
        request["additionalModelRequestFields"] = options.additional_model_request_fields
    return request


def _refuse_unsupported(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("AWS Bedrock returns one choice; 'n' must be 1.", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise InvalidRequest("AWS Bedrock does not return log probabilities.", param="logprobs")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise InvalidRequest(
            "This gateway's Bedrock provider supports only text responses; "
            f"response_format '{response_format.get('type')}' is not available.",
            param="response_format",
        )


# -- messages --------------------------------------------------------------------------------


def _conversation(messages: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[dict]]:
    """(system blocks, alternating Converse messages) for OpenAI's message list."""
    system: list[dict[str, str]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system += [{"text": text} for text in _texts(message.get("content"), index)]
            continue
        if role == "user":
            _append(turns, "user", _user_blocks(message.get("content"), index))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message, index))
        elif role == "tool":
            _append(turns, "user", [_tool_result(message, index)])
        else:
            raise InvalidRequest(
                f"AWS Bedrock has no '{role}' messages; use tools and tool messages instead.",
                param=f"messages[{index}].role",
            )
    if not turns:
        raise InvalidRequest("The conversation needs at least one user message.", param="messages")
    if turns[0]["role"] != "user":
        raise InvalidRequest(
            "AWS Bedrock conversations must start with a user message (after any system messages).",
            param="messages",
        )
    return system, turns


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add blocks to the conversation, merging with the last message when the role repeats.

    OpenAI's tool messages directly follow the assistant's tool calls, so their results open
    the merged user message, ahead of any text, as Anthropic models require.
    """
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _texts(content: Any, index: int) -> list[str]:
    """The non-blank texts of a string or a list of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content] if content.strip() else []
    if not isinstance(content, list):
        raise InvalidRequest(
            "Message content must be a string or a list of parts.",
            param=f"messages[{index}].content",
        )
    texts = []
    for position, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("text", "refusal"):
            raise InvalidRequest(
                "Only text parts are allowed here.",
                param=f"messages[{index}].content[{position}]",
            )
        text = part.get(kind)
        if not isinstance(text, str):
            raise InvalidRequest(
                f"A {kind} part needs a string '{kind}'.",
                param=f"messages[{index}].content[{position}].{kind}",
            )
        if text.strip():
            texts.append(text)
    return texts


def _user_blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"text": text} for text in _texts(content, index)]
    blocks: list[dict[str, Any]] = []
    for position, part in enumerate(content):
        where = f"messages[{index}].content[{position}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks += [{"text": text} for text in _texts([part], index)]
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), where))
        else:
            raise InvalidRequest(
                f"AWS Bedrock chat through this gateway takes text and image parts, not {kind!r}.",
                param=where,
            )
    return blocks


def _image(image_url: Any, where: str) -> dict[str, Any]:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    found = DATA_URL.match(url) if isinstance(url, str) else None
    if found is None:
        raise InvalidRequest(
            "AWS Bedrock cannot fetch images from URLs; send the image inline as a "
            "data:image/<png|jpeg|gif|webp>;base64,... URL.",
            param=f"{where}.image_url",
        )
    image_format = IMAGE_FORMATS.get(found.group(1).lower())
    if image_format is None:
        raise InvalidRequest(
            "AWS Bedrock accepts png, jpeg, gif and webp images.", param=f"{where}.image_url"
        )
    return {"image": {"format": image_format, "source": {"bytes": found.group(2)}}}


def _assistant_blocks(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"text": text} for text in _texts(message.get("content"), index)
    ]
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest("'tool_calls' must be a list.", param=f"messages[{index}].tool_calls")
    for position, call in enumerate(calls):
        blocks.append(_tool_use(call, f"messages[{index}].tool_calls[{position}]"))
    return blocks


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest("A tool call needs a function with a name.", param=where)
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise InvalidRequest("A tool call needs an id.", param=f"{where}.id")
    return {
        "toolUse": {
            "toolUseId": tool_use_id(call["id"]),
            "name": function["name"],
            "input": _arguments(function.get("arguments"), f"{where}.function.arguments"),
        }
    }


def _arguments(arguments: Any, where: str) -> dict[str, Any]:
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=where)
    return parsed


def _tool_result(message: dict[str, Any], index: int) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            "A tool message needs the 'tool_call_id' it answers.",
            param=f"messages[{index}].tool_call_id",
        )
    text = "\n".join(_texts(message.get("content"), index))
    return {"toolResult": {"toolUseId": tool_use_id(call_id), "content": [_result_block(text)]}}


def _result_block(text: str) -> dict[str, Any]:
    """A JSON object result stays structured; anything else is text."""
    if text.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return {"json": parsed}
    return {"text": text or EMPTY_RESULT}


def tool_use_id(call_id: str) -> str:
    """A Bedrock-safe id for an OpenAI tool call id, the same for the call and its result.

    Bedrock allows ``[a-zA-Z0-9_.:-]``, at most 64 characters. Ids it would refuse are
    rewritten with a digest, so that two different foreign ids never collapse into one.
    """
    if TOOL_USE_ID.match(call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode()).hexdigest()[:16]
    cleaned = re.sub(r"[^a-zA-Z0-9_.:-]", "_", call_id)[:47]
    return f"{cleaned}-{digest}"


# -- inference settings -----------------------------------------------------------------------


def _inference_config(body: dict[str, Any], options: ConverseOptions) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit_key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    limit = body.get(limit_key)
    if limit is not None:
        if not _whole(limit) or limit < 1:
            raise InvalidRequest(f"'{limit_key}' must be a positive integer.", param=limit_key)
        config["maxTokens"] = limit
    temperature = _temperature(body.get("temperature"), options)
    if temperature is not None:
        config["temperature"] = temperature
    top_p = body.get("top_p")
    if top_p is not None:
        if not _number(top_p) or not 0 <= top_p <= 1:
            raise InvalidRequest("'top_p' must be between 0 and 1.", param="top_p")
        config["topP"] = top_p
    stops = _stop_sequences(body.get("stop"))
    if stops:
        config["stopSequences"] = stops
    return config


def _temperature(value: Any, options: ConverseOptions) -> float | None:
    if value is None:
        return None
    if not _number(value) or not 0 <= value <= 2:
        raise InvalidRequest("'temperature' must be a number between 0 and 2.", param="temperature")
    if value <= 1:
        return value
    if options.temperature_above_one == "clamp":
        return 1
    raise InvalidRequest(
        f"AWS Bedrock accepts a temperature between 0 and 1; {value} is above that range.",
        param="temperature",
    )


def _stop_sequences(stop: Any) -> list[str]:
    if stop is None:
        return []
    sequences = [stop] if isinstance(stop, str) else stop
    if not isinstance(sequences, list) or not all(isinstance(s, str) for s in sequences):
        raise InvalidRequest("'stop' must be a string or a list of strings.", param="stop")
    return [s for s in sequences if s]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- tools ------------------------------------------------------------------------------------


def _tool_config(body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``toolConfig``, or ``None`` when the request neither offers nor mentions tools.

    ``tool_choice: none`` has no Converse equivalent: tools are left out when the history
    allows it; when it holds tool blocks Bedrock insists on ``toolConfig``, so they stay.
    """
    specs = [_tool_spec(tool, index) for index, tool in enumerate(body.get("tools") or [])]
    used = _tool_names_used(messages)
    choice = body.get("tool_choice")
    if choice == "none" and not used:
        return None
    declared = {spec["toolSpec"]["name"] for spec in specs}
    specs += [_placeholder_spec(name) for name in sorted(used - declared)]
    if not specs:
        if choice not in (None, "none", "auto"):
            raise InvalidRequest("'tool_choice' needs 'tools'.", param="tool_choice")
        return None
    config: dict[str, Any] = {"tools": specs}
    tool_choice = _tool_choice(choice, declared)
    if tool_choice is not None:
        config["toolChoice"] = tool_choice
    return config


def _tool_spec(tool: Any, index: int) -> dict[str, Any]:
    where = f"tools[{index}]"
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise InvalidRequest("AWS Bedrock supports function tools only.", param=f"{where}.type")
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise InvalidRequest(
            "Tool names for AWS Bedrock are 1-64 letters, digits, '_' or '-'.",
            param=f"{where}.function.name",
        )
    assert isinstance(function, dict)
    schema = function.get("parameters")
    if schema is None:
        schema = EMPTY_SCHEMA
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "Tool parameters must be a JSON Schema object.", param=f"{where}.function.parameters"
        )
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema}}
    description = function.get("description")
    if isinstance(description, str) and description.strip():
        spec["description"] = description
    return {"toolSpec": spec}


def _placeholder_spec(name: str) -> dict[str, Any]:
    """A declaration for a tool the history used but the request did not declare."""
    return {
        "toolSpec": {
            "name": name,
            "description": "A tool used earlier in this conversation.",
            "inputSchema": {"json": EMPTY_SCHEMA},
        }
    }


def _tool_names_used(messages: Iterable[dict[str, Any]]) -> set[str]:
    """Names of the tools called in the history (and whether results exist at all)."""
    names: set[str] = set()
    has_results = False
    for message in messages:
        for block in message["content"]:
            if "toolUse" in block:
                names.add(block["toolUse"]["name"])
            has_results = has_results or "toolResult" in block
    if has_results and not names:
        raise InvalidRequest(
            "Tool messages must answer tool calls of an earlier assistant message.",
            param="messages",
        )
    return names


def _tool_choice(choice: Any, declared: set[str]) -> dict[str, Any] | None:
    if choice is None or choice == "none":
        return None
    if choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise InvalidRequest(
            "'tool_choice' must be 'none', 'auto', 'required' or a named function.",
            param="tool_choice",
        )
    if name not in declared:
        raise InvalidRequest(f"'tool_choice' names an unknown tool {name!r}.", param="tool_choice")
    return {"tool": {"name": name}}
