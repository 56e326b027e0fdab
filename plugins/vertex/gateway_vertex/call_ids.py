"""Tool-call ids that carry Gemini's thought signatures through an OpenAI client and back.

Gemini 3 models attach a ``thoughtSignature`` to the function calls they make and refuse a
later turn whose history lacks it. OpenAI clients keep nothing but the tool call's ``id``, and
they send it back unchanged with the tool result and the assistant message, so the signature
travels inside the id: ``call_<random>__ts_<base64url(signature)>``. The gateway then needs no
storage, and any worker can serve the next turn.
"""

from __future__ import annotations

import base64
import binascii
import secrets

PREFIX = "call_"
MARK = "__ts_"


def new_call_id(signature: str | None = None) -> str:
    """A fresh tool-call id, holding ``signature`` when the model gave one."""
    call_id = f"{PREFIX}{secrets.token_hex(12)}"  # hex: the random part never contains MARK
    if not signature:
        return call_id
    encoded = base64.urlsafe_b64encode(signature.encode()).rstrip(b"=").decode()
    return f"{call_id}{MARK}{encoded}"


def thought_signature(call_id: str) -> str | None:
    """The signature inside an id made by :func:`new_call_id`, or ``None`` (ids made by
    anyone else, or damaged on the way, simply carry none)."""
    _head, mark, encoded = call_id.partition(MARK)
    if not mark or not encoded:
        return None
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        signature = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return signature or None
