"""Line-by-line validation of batch input files."""

from __future__ import annotations

import json

import pytest

from gateway_core.api import Identity
from gateway_core.batches.validation import parse_input
from gateway_core.errors import InvalidRequest, PermissionDenied

ANYONE = Identity(subject="k", method="test")
DEMO_ONLY = Identity(subject="k", method="test", allowed_models=frozenset({"demo"}))


def line(custom_id: str = "a", **changes) -> dict:
    item = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
    }
    item.update(changes)
    return item


def encode(*items) -> bytes:
    return b"\n".join(i if isinstance(i, bytes) else json.dumps(i).encode() for i in items)


def test_a_valid_file_gives_its_lines_in_order_and_skips_blank_lines() -> None:
    parsed = parse_input(encode(line("a"), b"", line("b")) + b"\n", ANYONE)
    assert [p.custom_id for p in parsed] == ["a", "b"]
    assert json.loads(parsed[0].body)["model"] == "demo"


@pytest.mark.parametrize(
    ("items", "bad_line", "words"),
    [
        ((line("a"), b"{not json"), 2, "JSON"),
        ((line("a"), line("a")), 2, "more than once"),
        ((line("a"), line("b", method="GET")), 2, "method"),
        ((line("a", url="/v1/images/generations"),), 1, "url"),
        ((line("a", body=[]),), 1, "body"),
        ((line(""),), 1, "custom_id"),
        ((b"[1, 2]",), 1, "object"),
        ((line("a", body={"messages": []}),), 1, "model"),
        ((line("a", body={"model": "demo", "stream": True}),), 1, "stream"),
    ],
)
def test_the_first_bad_line_is_named(items, bad_line: int, words: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_input(encode(*items), ANYONE)
    assert f"Line {bad_line} " in error.value.message and words in error.value.message


def test_a_model_the_key_may_not_use_is_refused() -> None:
    parse_input(encode(line("a")), DEMO_ONLY)
    other = line("b", body={"model": "other", "messages": []})
    with pytest.raises(PermissionDenied) as error:
        parse_input(encode(line("a"), other), DEMO_ONLY)
    assert "Line 2" in error.value.message and "other" in error.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_input(b"\n\n", ANYONE)
