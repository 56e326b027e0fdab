"""The ``GenerateContentRequest`` for an OpenAI chat body: the one entry point of the mapping."""

from __future__ import annotations

from typing import Any

import orjson

from gateway_vertex.config import VertexConfig
from gateway_vertex.generation import generation_config
from gateway_vertex.messages import conversation
from gateway_vertex.tools import function_declarations, tool_config


def generate_content_request(body: dict[str, Any], config: VertexConfig) -> dict[str, Any]:
    """Gemini's request for ``body``; what Vertex cannot do is refused with a 400 first."""
    talk = conversation(
        body.get("messages"), skip_missing_signatures=config.skip_missing_thought_signatures
    )
    request: dict[str, Any] = {"contents": talk.contents}
    if talk.system is not None:
        request["systemInstruction"] = talk.system
    tools = body.get("tools")
    if tools:
        request["tools"] = [{"functionDeclarations": function_declarations(tools, config.schemas)}]
        choice = tool_config(body.get("tool_choice"))
        if choice is not None:
            request["toolConfig"] = choice
    generation = generation_config(body, config.schemas)
    if generation:
        request["generationConfig"] = generation
    if config.safety_settings:
        request["safetySettings"] = [
            setting.model_dump(exclude_none=True) for setting in config.safety_settings
        ]
    return request


def encoded_request(body: dict[str, Any], config: VertexConfig) -> bytes:
    return orjson.dumps(generate_content_request(body, config))
