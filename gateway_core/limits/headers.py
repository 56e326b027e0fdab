"""The ``x-ratelimit-*`` response headers, spelled as OpenAI sends them.

For each family (``requests``, ``tokens``) the tightest window limit of the request is reported:
``x-ratelimit-limit-requests: 60``, ``x-ratelimit-remaining-requests: 59``,
``x-ratelimit-reset-requests: 59.98s`` — the reset being when the oldest request counted now
leaves the window, so that capacity starts coming back.
"""

from __future__ import annotations


def format_reset(ms: int) -> str:
    """``20ms``, ``1s``, ``1.5s``, ``6m0s``, ``1h2m3s`` (Go duration style, like OpenAI)."""
    ms = max(ms, 0)
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


class HeaderBuilder:
    """Collects window limits per family and keeps the one with the least remaining."""

    __slots__ = ("_tightest",)

    def __init__(self) -> None:
        self._tightest: dict[str, tuple[int, int, int]] = {}

    def add(self, family: str, limit: int, remaining: int, reset_ms: int) -> None:
        current = self._tightest.get(family)
        if current is None or remaining < current[1]:
            self._tightest[family] = (limit, max(remaining, 0), reset_ms)

    def headers(self) -> dict[str, str]:
        out = {}
        for family, (limit, remaining, reset_ms) in self._tightest.items():
            out[f"x-ratelimit-limit-{family}"] = str(limit)
            out[f"x-ratelimit-remaining-{family}"] = str(remaining)
            out[f"x-ratelimit-reset-{family}"] = format_reset(reset_ms)
        return out
