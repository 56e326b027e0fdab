"""JSON in one place: orjson, with the gateway's error for a body that is not JSON."""

from __future__ import annotations

from typing import Any

import orjson

from gateway_core.errors import InvalidRequest

dumps = orjson.dumps


def loads_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, or raise a 400 that says why."""
    if not body:
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return value
