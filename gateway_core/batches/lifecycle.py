"""Pure rules of a batch's life: its window, its statuses, and the shape of each result line.

Nothing here touches the database or the network, so the rules are unit-tested directly.
"""

from __future__ import annotations

from typing import Any

from gateway_core.errors import GatewayError

ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}
WINDOWS = {"24h": 24 * 3600}

VALIDATING = "validating"
FAILED = "failed"
IN_PROGRESS = "in_progress"
FINALIZING = "finalizing"
COMPLETED = "completed"
EXPIRED = "expired"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
STATUSES = (
    VALIDATING,
    FAILED,
    IN_PROGRESS,
    FINALIZING,
    COMPLETED,
    EXPIRED,
    CANCELLING,
    CANCELLED,
)
TERMINAL = frozenset({FAILED, COMPLETED, EXPIRED, CANCELLED})
#: Statuses whose batches can still be cancelled.
CANCELLABLE = frozenset({VALIDATING, IN_PROGRESS})

#: Line outcomes: ``ok`` lines go to the output file, every other outcome to the error file.
OK, ERROR, LINE_EXPIRED, LINE_CANCELLED = "ok", "error", "expired", "cancelled"


def window_seconds(window: str) -> int:
    """Seconds of a ``completion_window``; only OpenAI's ``24h`` is accepted."""
    return WINDOWS[window]


def expires_at(created_at: int, window: str) -> int:
    return created_at + window_seconds(window)


def is_expired(now: float, expires: int) -> bool:
    """A batch expires once its window has fully passed (the last second still counts)."""
    return now >= expires


def final_status(status: str, expired: bool) -> str:
    """The status a batch ends in when its last line is done.

    A cancelled batch stays cancelled even if its window also passed; otherwise an expired
    window wins over normal completion.
    """
    if status == CANCELLING:
        return CANCELLED
    if expired:
        return EXPIRED
    return COMPLETED


def timestamp_field(status: str) -> str | None:
    """The ``*_at`` field set when a batch enters ``status``."""
    return {
        IN_PROGRESS: "in_progress_at",
        FINALIZING: "finalizing_at",
        COMPLETED: "completed_at",
        FAILED: "failed_at",
        EXPIRED: "expired_at",
        CANCELLING: "cancelling_at",
        CANCELLED: "cancelled_at",
    }.get(status)


def is_output(outcome: str) -> bool:
    return outcome == OK


# -- result lines ------------------------------------------------------------------------


def response_line(
    line_id: str, custom_id: str, request_id: str, status: int, body: Any
) -> dict[str, Any]:
    """A line that reached an answer: a reply (output file) or an error reply (error file)."""
    return {
        "id": line_id,
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": request_id, "body": body},
        "error": None,
    }


def error_response_line(
    line_id: str, custom_id: str, request_id: str, error: GatewayError
) -> dict[str, Any]:
    """A request the gateway or the provider refused, in the OpenAI error shape."""
    return response_line(line_id, custom_id, request_id, error.status, error.to_dict())


def unexecuted_line(line_id: str, custom_id: str, outcome: str) -> dict[str, Any]:
    """A line never executed: the window passed (``batch_expired``) or the batch was cancelled."""
    if outcome == LINE_EXPIRED:
        code, message = (
            "batch_expired",
            "This request could not be executed before the completion window expired.",
        )
    else:
        code, message = "batch_cancelled", "This request was not executed: the batch was cancelled."
    return {
        "id": line_id,
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }
