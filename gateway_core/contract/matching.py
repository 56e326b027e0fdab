"""Comparing what arrived with what a fixture expects, with messages that point at the spot."""

from __future__ import annotations

from typing import Any

import orjson

_SHOWN = 80


def subset_problems(expected: Any, actual: Any, where: str) -> list[str]:
    """Where ``actual`` departs from ``expected``, one line per departure.

    Objects match when every expected key matches (extra keys are fine); arrays must have the
    same length and match item by item; everything else must be equal, booleans never being
    taken for numbers.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {shown(actual)}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing (expected {shown(value)})")
            else:
                problems += subset_problems(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {shown(actual)}"]
        return [
            problem
            for index, (item, got) in enumerate(zip(expected, actual, strict=True))
            for problem in subset_problems(item, got, f"{where}[{index}]")
        ]
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return [f"{where}: expected {shown(expected)}, got {shown(actual)}"]
    return []


def shown(value: Any) -> str:
    """A short JSON rendering of ``value`` for a message."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
