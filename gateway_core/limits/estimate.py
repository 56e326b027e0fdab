"""How many tokens a request may use, before it is sent, without a tokenizer.

Two numbers, for two jobs:

* an **estimate** of the prompt (about four characters per token, plus a few tokens per message
  and per image), reserved against tokens-per-minute limits and reconciled with the real count
  afterwards. Being close matters more than being safe here;
* a **bound** on the prompt, for budgets, which must never be overspent: byte-level tokenizers
  (OpenAI's, Llama's) never produce more tokens than the text has UTF-8 bytes, and a JSON body
  is longer than the text it carries, so the body's length in bytes (plus a fixed allowance per
  image) bounds the prompt.

The completion is bounded by ``max_completion_tokens`` or ``max_tokens`` (times ``n``), or by
``limits.default_max_tokens`` when the request sets neither.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
IMAGE_TOKENS_ESTIMATE = 765  # a 512-pixel-tiled image at high detail
IMAGE_TOKENS_BOUND = 1600  # above what any single image costs on OpenAI's models


def estimate_prompt_tokens(operation: str, body: dict[str, Any]) -> int:
    """About how many tokens the prompt has."""
    if operation == "embeddings":
        return _estimate_input(body.get("input"))
    chars, images, messages = 0, 0, body.get("messages")
    count = 0
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            count += 1
            c, i = _content_size(message.get("content"))
            chars += c + len(message.get("name") or "")
            images += i
            calls = message.get("tool_calls")
            if calls:
                chars += len(str(calls))
    tools = body.get("tools") or body.get("functions")
    if tools:
        chars += len(str(tools))
    return (
        -(-chars // CHARS_PER_TOKEN)
        + count * TOKENS_PER_MESSAGE
        + TOKENS_PER_REPLY
        + images * IMAGE_TOKENS_ESTIMATE
    )


def bound_prompt_tokens(raw_body: bytes, body: dict[str, Any]) -> int:
    """At least as many tokens as the prompt can have (see the module's docstring)."""
    return len(raw_body) + _count_images(body.get("messages")) * IMAGE_TOKENS_BOUND


def max_completion_tokens(operation: str, body: dict[str, Any], default: int) -> int:
    """The most output tokens the request allows."""
    if operation == "embeddings":
        return 0
    value = body.get("max_completion_tokens")
    if not _positive_int(value):
        value = body.get("max_tokens")
    limit = value if _positive_int(value) else default
    choices = body.get("n")
    return limit * choices if _positive_int(choices) else limit


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _content_size(content: object) -> tuple[int, int]:
    """(characters of text, number of images) of a message's content."""
    if isinstance(content, str):
        return len(content), 0
    if not isinstance(content, list):
        return 0, 0
    chars = images = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            chars += len(text)
        elif part.get("type") in ("image_url", "input_image", "image"):
            images += 1
        else:
            chars += len(str(part))
    return chars, images


def _count_images(messages: object) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(
        _content_size(message.get("content"))[1]
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
    )


def _estimate_input(value: object) -> int:
    if isinstance(value, str):
        return -(-len(value) // CHARS_PER_TOKEN)
    if not isinstance(value, list):
        return 0
    if value and all(isinstance(item, int) for item in value):
        return len(value)  # already token ids
    return sum(_estimate_input(item) for item in value)
