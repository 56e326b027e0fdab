"""Raw usage records as CSV or JSON lines, one record per line, for spreadsheets and pipelines.

Names match the report's dimensions (``key``, ``team``, ``user``, ``model``, ``provider``);
times are ISO 8601 in the requested zone; ``cost_usd`` is an exact decimal string, empty or
null when the price is unknown.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from gateway_core.usage.buckets import iso
from gateway_core.usage.totals import usd

FIELDS = (
    "ts",
    "request_id",
    "key",
    "team",
    "user",
    "model",
    "deployment",
    "provider",
    "status",
    "error_code",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "total_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "streamed",
    "estimated",
)
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}
#: A spreadsheet runs a cell that starts with one of these as a formula; end users and request
#: ids are chosen by clients, so such text cells get a leading apostrophe (OWASP's advice).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def record_out(row: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    prompt, completion = row["prompt_tokens"], row["completion_tokens"]
    cost = row["cost_nanos"]
    return {
        "ts": iso(int(row["ts_epoch"]), zone),
        "request_id": row["request_id"],
        "key": row["subject"],
        "team": row["team_id"],
        "user": row["end_user"],
        "model": row["public_model"],
        "deployment": row["deployment_id"],
        "provider": row["provider"],
        "status": row["status"],
        "error_code": row["error_code"],
        "attempts": row["attempts"],
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_prompt_tokens": row["cached_prompt_tokens"],
        "total_tokens": None
        if prompt is None and completion is None
        else (prompt or 0) + (completion or 0),
        "cost_usd": None if cost is None else usd(int(cost)),
        "latency_ms": row["latency_ms"],
        "ttft_ms": row["ttft_ms"],
        "streamed": bool(row["streamed"]),
        "estimated": bool(row["estimated"]),
    }


def csv_header() -> str:
    return ",".join(FIELDS) + "\r\n"


def csv_rows(rows: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(_cell(value) for value in record_out(row, zone).values())
    return out.getvalue()


def json_lines(rows: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> bytes:
    return b"".join(orjson.dumps(record_out(row, zone)) + b"\n" for row in rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_STARTS) else value
    return str(value)
