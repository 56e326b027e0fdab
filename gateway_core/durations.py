"""Durations written the way the original Go router wrote them: ``15m``, ``1h30m``, ``500ms``."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Return seconds for a number (already seconds) or a string such as ``"1h30m"``.

    Raises ``ValueError`` with the accepted forms for anything else, including negative values.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m or 1h30m, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _parse_units(text, value)
    else:
        raise ValueError(
            f"expected a duration such as 30s, 15m or 1h30m, got {type(value).__name__}"
        )
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _parse_units(text: str, original: str) -> float:
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"expected a duration such as 30s, 15m, 1h30m or 500ms, got {original!r}")
    return total
