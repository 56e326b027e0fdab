"""Line-by-line checks of a batch input file, so that a bad file fails at upload, not later.

The first bad line is named in the error (1-based, as editors count), with what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from gateway_core.api import Identity
from gateway_core.batches.lifecycle import ENDPOINTS
from gateway_core.errors import InvalidRequest, PermissionDenied

MAX_CUSTOM_ID = 512


@dataclass(frozen=True, slots=True)
class InputLine:
    custom_id: str
    url: str
    body: bytes


def _bad(number: int, problem: str) -> InvalidRequest:
    return InvalidRequest(
        f"Line {number} of the file is invalid: {problem}", param="file", code="invalid_file"
    )


def parse_input(content: bytes, identity: Identity) -> list[InputLine]:
    """Every request of a JSONL batch file, or :class:`InvalidRequest` for the first bad line."""
    lines: list[InputLine] = []
    seen: set[str] = set()
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        lines.append(_parse_line(number, raw, identity, seen))
    if not lines:
        raise InvalidRequest("The file has no requests.", param="file", code="invalid_file")
    return lines


def _parse_line(number: int, raw: bytes, identity: Identity, seen: set[str]) -> InputLine:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad(number, "not valid JSON.") from None
    if not isinstance(item, dict):
        raise _bad(number, "expected a JSON object.")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID:
        raise _bad(number, f"'custom_id' must be a string of 1 to {MAX_CUSTOM_ID} characters.")
    if custom_id in seen:
        raise _bad(number, f"'custom_id' {custom_id!r} is used more than once.")
    seen.add(custom_id)
    if item.get("method") != "POST":
        raise _bad(number, "'method' must be 'POST'.")
    url = item.get("url")
    if url not in ENDPOINTS:
        raise _bad(number, f"'url' must be one of {', '.join(ENDPOINTS)}.")
    body = item.get("body")
    if not isinstance(body, dict):
        raise _bad(number, "'body' must be an object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(number, "'body.model' must be a non-empty string.")
    if not identity.may_use(model):
        raise PermissionDenied(
            f"Line {number} of the file is invalid: this key may not use model {model!r}.",
            param="file",
            code="model_not_allowed",
        )
    if body.get("stream"):
        raise _bad(number, "batch requests cannot stream ('stream' must be false).")
    return InputLine(custom_id, url, orjson.dumps(body))
