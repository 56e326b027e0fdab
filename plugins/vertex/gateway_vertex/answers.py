"""A Gemini ``GenerateContentResponse`` as OpenAI's ``chat.completion``."""

from __future__ import annotations

from typing import Any

import orjson

from gateway_core.api import ProviderCall, UpstreamError
from gateway_vertex.candidates import candidates_of, created_at, read_parts
from gateway_vertex.outcomes import finish_reason, openai_usage, prompt_block


def completion(response: dict[str, Any], call: ProviderCall, deployment: str) -> bytes:
    blocked = prompt_block(response)
    if blocked is not None:
        raise blocked
    candidates = candidates_of(response)
    if not candidates:
        raise UpstreamError(f"Deployment {deployment} answered without a candidate")
    choices = [_choice(index, candidate) for index, candidate in candidates]
    return orjson.dumps(
        {
            "id": completion_id(response, call),
            "object": "chat.completion",
            "created": created_at(response),
            "model": call.public_model,
            "choices": sorted(choices, key=lambda choice: choice["index"]),
            "usage": openai_usage(response.get("usageMetadata")),
        }
    )


def completion_id(response: dict[str, Any], call: ProviderCall) -> str:
    upstream = response.get("responseId")
    return f"chatcmpl-{upstream if isinstance(upstream, str) and upstream else call.request_id}"


def _choice(index: int, candidate: dict[str, Any]) -> dict[str, Any]:
    parts = read_parts(candidate)
    reason = finish_reason(candidate.get("finishReason"), bool(parts.tool_calls))
    if parts.texts:
        content: str | None = "".join(parts.texts)
    else:
        content = None if parts.tool_calls or reason == "content_filter" else ""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if parts.tool_calls:
        message["tool_calls"] = parts.tool_calls
    return {"index": index, "message": message, "finish_reason": reason, "logprobs": None}
