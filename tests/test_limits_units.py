"""The small parts of limits: token estimates and bounds, calendar periods, header spelling."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.limits.estimate import (
    bound_prompt_tokens,
    estimate_prompt_tokens,
    max_completion_tokens,
)
from gateway_core.limits.headers import format_reset
from gateway_core.limits.periods import PeriodClock, period_at


def chat_body(*contents, **extra):
    return {"messages": [{"role": "user", "content": c} for c in contents], **extra}


def test_the_prompt_estimate_is_about_four_characters_a_token() -> None:
    assert estimate_prompt_tokens("chat", chat_body("x" * 400)) == 100 + 4 + 3
    parts = [{"type": "text", "text": "x" * 40}, {"type": "image_url", "image_url": {"url": "u"}}]
    assert estimate_prompt_tokens("chat", chat_body(parts)) == 10 + 4 + 3 + 765
    assert estimate_prompt_tokens("embeddings", {"input": ["abcd" * 10, "ab"]}) == 11
    assert estimate_prompt_tokens("embeddings", {"input": [1, 2, 3]}) == 3


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_the_prompt_bound_covers_every_byte_of_text(contents) -> None:
    """Byte-level tokenizers never make more tokens than the text has UTF-8 bytes."""
    body = chat_body(*contents)
    raw = orjson.dumps(body)
    text_bytes = sum(len(c.encode()) for c in contents)
    overhead = 4 * len(contents) + 3
    assert bound_prompt_tokens(raw, body) >= text_bytes + overhead
    assert bound_prompt_tokens(raw, body) >= estimate_prompt_tokens("chat", body)


def test_completion_tokens_come_from_the_request_or_the_default() -> None:
    assert max_completion_tokens("chat", {"max_completion_tokens": 50, "max_tokens": 9}, 4096) == 50
    assert max_completion_tokens("chat", {"max_tokens": 9, "n": 3}, 4096) == 27
    assert max_completion_tokens("chat", {"max_tokens": True}, 4096) == 4096
    assert max_completion_tokens("chat", {}, 1000) == 1000
    assert max_completion_tokens("embeddings", {"max_tokens": 9}, 1000) == 0


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("kind", "instant", "ident", "start", "end"),
    [
        ("day", "2026-03-29T12:00:00+02:00", "d2026-03-29", "2026-03-29T00:00:00+01:00",
         "2026-03-30T00:00:00+02:00"),  # the day clocks go forward lasts 23 hours
        ("week", "2026-11-22T23:30:00+01:00", "w2026-W47", "2026-11-16T00:00:00+01:00",
         "2026-11-23T00:00:00+01:00"),
        ("month", "2026-12-31T23:59:59+01:00", "m2026-12", "2026-12-01T00:00:00+01:00",
         "2027-01-01T00:00:00+01:00"),
    ],
)  # fmt: skip
def test_periods_follow_the_local_calendar(kind, instant, ident, start, end) -> None:
    period = period_at(kind, "Europe/Berlin", at(instant))
    assert (period.id, period.starts_at, period.ends_at) == (ident, at(start), at(end))


def test_total_never_ends_and_cached_periods_are_recomputed_when_left() -> None:
    assert period_at("total", "Asia/Tokyo", 0).ends_at is None
    clock = PeriodClock()
    first = clock.period("day", "UTC", at("2026-11-22T23:59:59+00:00"))
    assert clock.period("day", "UTC", at("2026-11-22T00:00:00+00:00")) is first
    assert clock.period("day", "UTC", at("2026-11-23T00:00:00+00:00")).id == "d2026-11-23"
    assert clock.period("day", "UTC", at("2026-11-21T12:00:00+00:00")).id == "d2026-11-21"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0ms"), (20, "20ms"), (1000, "1s"), (1500, "1.5s"), (59_980, "59.98s"),
     (360_000, "6m0s"), (3_723_000, "1h2m3s")],
)  # fmt: skip
def test_reset_times_are_spelled_like_openai(ms, text) -> None:
    assert format_reset(ms) == text
