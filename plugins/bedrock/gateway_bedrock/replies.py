"""Converse answers as OpenAI ``chat.completion`` bodies, and the mappings streams share.

Stop reasons and usage follow the cross-provider tables of the wire-format reference: cache
reads and writes count as prompt tokens (Bedrock reports them apart from ``inputTokens``),
and the total is recomputed so that it always equals prompt plus completion.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway_core.api import ProviderCall, UpstreamError

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: Any, *, called_tools: bool) -> str:
    """OpenAI's finish reason for a Bedrock stop reason.

    ``tool_calls`` only when calls were actually returned (a client would look for them);
    unknown and malformed-output reasons end as ``stop``.
    """
    reason = FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    if reason == "tool_calls" and not called_tools:
        return "stop"
    return reason


def openai_usage(usage: Any) -> dict[str, Any] | None:
    """OpenAI's ``usage`` for Bedrock's, or ``None`` if Bedrock sent none we can read."""
    if not isinstance(usage, dict):
        return None
    output = _count(usage.get("outputTokens"))
    fresh = _count(usage.get("inputTokens"))
    if output is None or fresh is None:
        return None
    cache_read = _count(usage.get("cacheReadInputTokens")) or 0
    cache_write = _count(usage.get("cacheWriteInputTokens")) or 0
    prompt = fresh + cache_read + cache_write
    mapped: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
    }
    if "cacheReadInputTokens" in usage:
        mapped["prompt_tokens_details"] = {"cached_tokens": cache_read}
    return mapped


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def completion_id(call: ProviderCall) -> str:
    return f"chatcmpl-{call.request_id}"


def chat_completion(answer: Any, call: ProviderCall, deployment: str) -> bytes:
    """The ``chat.completion`` body for a Converse answer."""
    output = answer.get("output") if isinstance(answer, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    if not isinstance(blocks, list):
        raise UpstreamError(f"Deployment {deployment} answered without an output message")
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    calls = [_tool_call(b["toolUse"]) for b in blocks if isinstance(b, dict) and "toolUse" in b]
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": completion_id(call),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.public_model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": finish_reason(answer.get("stopReason"), called_tools=bool(calls)),
            }
        ],
    }
    usage = openai_usage(answer.get("usage"))
    if usage is not None:
        body["usage"] = usage
    return orjson.dumps(body)


def _tool_call(use: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": use.get("toolUseId"),
        "type": "function",
        "function": {
            "name": use.get("name"),
            "arguments": orjson.dumps(use.get("input", {})).decode(),
        },
    }
