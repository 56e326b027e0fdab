"""Unit tests of the batch rules: window (TTL) math, status mapping, result and error lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.batches import lifecycle
from gateway_core.batches.service import request_counts
from gateway_core.errors import InvalidRequest, ModelNotFound, RateLimited


def test_the_24h_window_is_a_day_of_seconds() -> None:
    assert lifecycle.expires_at(1_700_000_000, "24h") == 1_700_000_000 + 86_400
    with pytest.raises(KeyError):
        lifecycle.window_seconds("48h")


@given(created=st.integers(0, 2**40), offset=st.integers(-10, 10))
def test_a_batch_expires_exactly_when_its_window_has_passed(created: int, offset: int) -> None:
    expires = lifecycle.expires_at(created, "24h")
    assert lifecycle.is_expired(expires + offset, expires) is (offset >= 0)


@pytest.mark.parametrize(
    ("status", "expired", "final"),
    [
        (lifecycle.IN_PROGRESS, False, lifecycle.COMPLETED),
        (lifecycle.IN_PROGRESS, True, lifecycle.EXPIRED),
        (lifecycle.FINALIZING, False, lifecycle.COMPLETED),
        (lifecycle.CANCELLING, False, lifecycle.CANCELLED),
        (lifecycle.CANCELLING, True, lifecycle.CANCELLED),
    ],
)
def test_final_status(status: str, expired: bool, final: str) -> None:
    assert lifecycle.final_status(status, expired) == final
    assert lifecycle.timestamp_field(final) == f"{final}_at"


def test_every_status_but_validating_has_its_timestamp_field() -> None:
    fields = {s: lifecycle.timestamp_field(s) for s in lifecycle.STATUSES}
    assert fields.pop(lifecycle.VALIDATING) is None
    assert all(field == f"{status}_at" for status, field in fields.items())


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("bad body", param="messages"),
        ModelNotFound("no such model"),
        RateLimited("slow down", retry_after=2),
    ],
)
def test_a_refused_line_carries_the_openai_error_shape(error) -> None:
    line = lifecycle.error_response_line("batch_req_1", "c-1", "req-1", error)
    assert line["custom_id"] == "c-1" and line["error"] is None
    assert line["response"]["status_code"] == error.status
    assert line["response"]["request_id"] == "req-1"
    body = line["response"]["body"]["error"]
    assert body == {
        "message": error.message,
        "type": error.type,
        "param": error.param,
        "code": error.code,
    }


@pytest.mark.parametrize(
    ("outcome", "code"),
    [(lifecycle.LINE_EXPIRED, "batch_expired"), (lifecycle.LINE_CANCELLED, "batch_cancelled")],
)
def test_an_unexecuted_line_has_no_response_and_a_coded_error(outcome: str, code: str) -> None:
    line = lifecycle.unexecuted_line("batch_req_1", "c-1", outcome)
    assert line["response"] is None and line["error"]["code"] == code
    assert not lifecycle.is_output(outcome)


def test_request_counts_count_unfinished_lines_in_total_only() -> None:
    counts = {"ok": 3, "error": 1, "expired": 2, "pending": 4}
    assert request_counts(counts) == {"total": 10, "completed": 3, "failed": 3}
