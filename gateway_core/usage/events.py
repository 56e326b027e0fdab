"""Usage events as plain JSON, for spool files, JSONL files and webhooks."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import orjson

from gateway_core.api import UsageEvent

_FIELDS = {field.name for field in dataclasses.fields(UsageEvent)}


def event_to_dict(event: UsageEvent) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    if data["cost"] is not None:
        data["cost"] = str(data["cost"])
    return data


def event_from_dict(data: dict[str, Any]) -> UsageEvent:
    values = {key: value for key, value in data.items() if key in _FIELDS}
    if values.get("cost") is not None:
        values["cost"] = Decimal(values["cost"])
    return UsageEvent(**values)


def encode_events(events: list[UsageEvent]) -> bytes:
    return b"".join(orjson.dumps(event_to_dict(event)) + b"\n" for event in events)


def decode_events(text: bytes) -> list[UsageEvent]:
    return [event_from_dict(orjson.loads(line)) for line in text.splitlines() if line.strip()]
