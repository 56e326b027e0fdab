"""Reading Azure OpenAI error bodies, whose details hide in more than one spelling.

The published spec names the detail object ``inner_error`` with ``content_filter_results``;
live services answer ``innererror`` with ``content_filter_result``. Both are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

CONTENT_FILTER_CODE = "content_filter"
POLICY_VIOLATION_CODE = "ResponsibleAIPolicyViolation"
_RETRY_IN_MESSAGE = re.compile(r"retry after (\d+(?:\.\d+)?) second", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AzureError:
    message: str | None = None
    code: str | None = None
    param: str | None = None
    inner_code: str | None = None
    filter_result: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_content_filter(self) -> bool:
        return self.code == CONTENT_FILTER_CODE or self.inner_code == POLICY_VIOLATION_CODE

    def filtered_categories(self) -> list[str]:
        """The filter categories that blocked the request, e.g. ``["jailbreak"]``."""
        return sorted(
            name
            for name, verdict in self.filter_result.items()
            if isinstance(verdict, dict) and verdict.get("filtered") is True
        )

    def retry_after(self) -> float | None:
        """The wait stated in the message ("Please retry after 6 seconds"), if any."""
        found = _RETRY_IN_MESSAGE.search(self.message or "")
        return float(found.group(1)) if found else None


def read_azure_error(body: bytes) -> AzureError:
    """The fields of an Azure error body; an empty :class:`AzureError` for anything else."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return AzureError()
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return AzureError()
    inner = _first_mapping(error, "innererror", "inner_error")
    return AzureError(
        message=_text(error.get("message")),
        code=_text(error.get("code")),
        param=_text(error.get("param")),
        inner_code=_text(inner.get("code")),
        filter_result=_first_mapping(inner, "content_filter_result", "content_filter_results"),
    )


def _first_mapping(container: Mapping[str, Any], *names: str) -> Mapping[str, Any]:
    for name in names:
        value = container.get(name)
        if isinstance(value, dict):
            return value
    return {}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
