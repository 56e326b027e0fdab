"""Prices per model and the cost of a request, in exact decimal arithmetic.

The built-in table (``prices.json``, versioned) covers common models; a deployment's ``price``
in the config overrides it. A deployment without a known price costs ``None`` (unknown), never
zero, and is warned about once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from gateway_core.usage.records import Usage

log = logging.getLogger("gateway.usage")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Price:
        cached = data.get("cached_input")
        return cls(
            input=Decimal(str(data["input"])),
            output=Decimal(str(data.get("output", 0))),
            cached_input=Decimal(str(cached)) if cached is not None else None,
        )

    def cost(self, usage: Usage) -> Decimal:
        cached = usage.cached_prompt_tokens or 0
        fresh = usage.prompt_tokens - cached
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        total = fresh * self.input + cached * cached_rate + usage.completion_tokens * self.output
        return total / MILLION

    def worst_case(self, prompt_tokens: int, max_completion_tokens: int) -> Decimal:
        """The most a request may cost: every prompt token uncached, every output token used."""
        return (prompt_tokens * self.input + max_completion_tokens * self.output) / MILLION


def load_builtin_prices() -> tuple[str, dict[str, Price]]:
    """(version, prices by model name) of the table shipped with the package."""
    data = json.loads(resources.files("gateway_core.usage").joinpath("prices.json").read_text())
    return data["version"], {name: Price.from_mapping(p) for name, p in data["models"].items()}


def match_model(model: str, table: dict[str, Price]) -> Price | None:
    """Exact name first, else the longest known name contained in ``model`` (so that
    ``us.anthropic.claude-3-5-haiku-20241022-v1:0`` finds ``claude-3-5-haiku``)."""
    if model in table:
        return table[model]
    candidates = [name for name in table if name in model]
    return table[max(candidates, key=len)] if candidates else None


class PriceTable:
    """The price of each deployment, resolved once at start-up."""

    def __init__(self, prices: dict[str, Price | None]) -> None:
        self._prices = prices
        self._warned: set[str] = set()

    def price(self, deployment_id: str) -> Price | None:
        return self._prices.get(deployment_id)

    def cost(self, deployment_id: str, usage: Usage | None) -> Decimal | None:
        if usage is None:
            return None
        price = self._prices.get(deployment_id)
        if price is None:
            if deployment_id not in self._warned:
                self._warned.add(deployment_id)
                log.warning(
                    "no price known for deployment %s: its cost is recorded as unknown; set "
                    "`price:` on the deployment",
                    deployment_id,
                )
            return None
        return price.cost(usage)
