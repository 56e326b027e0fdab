"""OpenAI sampling and output parameters as Gemini's ``generationConfig``."""

from __future__ import annotations

from typing import Any

from gateway_core.api import InvalidRequest
from gateway_vertex.schemas import SchemaError, to_vertex_schema
from gateway_vertex.tools import SchemaStyle

# OpenAI name -> Gemini name, for values that carry over unchanged.
RENAMED = {
    "temperature": "temperature",
    "top_p": "topP",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def generation_config(body: dict[str, Any], style: SchemaStyle) -> dict[str, Any]:
    config = {
        vertex: body[openai] for openai, vertex in RENAMED.items() if body.get(openai) is not None
    }
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if limit is not None:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and stop:
        config["stopSequences"] = stop
    if body.get("n") not in (None, 1):
        config["candidateCount"] = body["n"]
    if body.get("logprobs") is True:
        raise InvalidRequest(
            "This gateway's Vertex AI adapter does not return logprobs.", param="logprobs"
        )
    config.update(_response_format(body.get("response_format"), style))
    return config


def _response_format(value: Any, style: SchemaStyle) -> dict[str, Any]:
    kind = value.get("type") if isinstance(value, dict) else None
    if value is None or kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind != "json_schema":
        raise InvalidRequest(
            "'response_format' must be of type text, json_object or json_schema.",
            param="response_format",
        )
    wrapper = value.get("json_schema")
    schema = wrapper.get("schema") if isinstance(wrapper, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "A json_schema response format needs its 'schema'.",
            param="response_format.json_schema.schema",
        )
    if style == "json_schema":
        return {"responseMimeType": "application/json", "responseJsonSchema": schema}
    try:
        converted = to_vertex_schema(schema)
    except SchemaError as problem:
        raise InvalidRequest(
            f"Vertex AI cannot use this schema: {problem}.",
            param="response_format.json_schema.schema",
        ) from None
    return {"responseMimeType": "application/json", "responseSchema": converted}
