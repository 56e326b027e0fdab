"""What a Gemini response means for OpenAI: finish reasons, blocked prompts and token usage."""

from __future__ import annotations

import re
from typing import Any

from gateway_core.api import InvalidRequest

#: Finish reasons that mean a safety or policy filter stopped the answer.
FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "MODEL_ARMOR",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)
_REASON = re.compile(r"^[A-Z_]{1,40}$")


def finish_reason(reason: Any, called_tools: bool) -> str:
    """OpenAI's finish reason for a candidate's ``finishReason``.

    Gemini says ``STOP`` when it called a tool, so tool calls decide first; ``OTHER`` and the
    reasons without an OpenAI equivalent (a malformed function call, say) end as ``stop``.
    """
    if reason in FILTERED:
        return "content_filter"
    if reason == "MAX_TOKENS":
        return "length"
    return "tool_calls" if called_tools else "stop"


def prompt_block(response: dict[str, Any]) -> InvalidRequest | None:
    """The error for a prompt Vertex refused to answer (HTTP 200, no candidates).

    It is a 400 ``content_filter``, as OpenAI and Azure answer a filtered prompt, so that the
    router neither retries it elsewhere nor hides it, and ``content_policy_fallbacks`` apply.
    """
    feedback = response.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if not reason or response.get("candidates"):
        return None
    named = f" ({reason})" if isinstance(reason, str) and _REASON.match(reason) else ""
    return InvalidRequest(
        f"The prompt was blocked by Vertex AI's safety filters{named}.",
        code="content_filter",
        param="messages",
        status=400,
    )


def openai_usage(metadata: Any) -> dict[str, Any]:
    """OpenAI's ``usage`` for Gemini's ``usageMetadata``.

    Completion tokens are the total less the prompt, which counts thinking tokens whether or
    not a model includes them in ``candidatesTokenCount``.
    """
    meta = metadata if isinstance(metadata, dict) else {}
    prompt = _count(meta, "promptTokenCount") + _count(meta, "toolUsePromptTokenCount")
    thoughts = _count(meta, "thoughtsTokenCount")
    total = meta.get("totalTokenCount")
    if isinstance(total, int) and total >= prompt:
        completion = total - prompt
    else:
        completion = _count(meta, "candidatesTokenCount") + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": _count(meta, "cachedContentTokenCount")},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def has_counts(metadata: Any) -> bool:
    """Whether a stream event's ``usageMetadata`` holds counts (early ones often do not)."""
    return isinstance(metadata, dict) and (
        "promptTokenCount" in metadata or "totalTokenCount" in metadata
    )


def _count(meta: dict[str, Any], name: str) -> int:
    value = meta.get(name)
    return value if isinstance(value, int) and value > 0 else 0
