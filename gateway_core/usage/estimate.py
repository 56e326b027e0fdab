"""Token counts when the upstream did not report them: a documented heuristic, no tokenizer.

About four characters of English per token, plus a few tokens of framing per message; used for
admission estimates and for streams the client left before the usage chunk arrived.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def _text_length(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # content parts
        return sum(_text_length(part.get("text", "")) for part in content if isinstance(part, dict))
    return 0


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """An estimate of the prompt tokens of a chat or embeddings request body."""
    messages = body.get("messages")
    if isinstance(messages, list):
        characters = sum(_text_length(m.get("content")) for m in messages if isinstance(m, dict))
        return characters // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages) + 1
    inputs = body.get("input")
    if isinstance(inputs, str):
        return len(inputs) // CHARS_PER_TOKEN + 1
    if isinstance(inputs, list):
        return sum(
            len(item) // CHARS_PER_TOKEN + 1 if isinstance(item, str) else 1 for item in inputs
        )
    return 1
