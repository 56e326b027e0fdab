"""What a limit strategy sees of one request; the costly numbers are computed on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway_core.limits.charges import Period
from gateway_core.limits.estimate import (
    bound_prompt_tokens,
    estimate_prompt_tokens,
    max_completion_tokens,
)

if TYPE_CHECKING:
    from gateway_core.api import Identity
    from gateway_core.usage.pricing import Price


class LimitRequest:
    """One request (or one attempt on a deployment), as limit strategies see it.

    ``identity``, ``public_model``, ``operation`` and ``body`` (read-only) describe the request;
    ``deployment_id`` is set when deployment-scope limits are asked before an attempt. Token
    numbers and the worst-case cost are computed only if a strategy asks for them.
    """

    __slots__ = (
        "_bound",
        "_completion",
        "_cost",
        "_estimate",
        "_periods",
        "_prices",
        "body",
        "default_max_tokens",
        "deployment_id",
        "identity",
        "now",
        "operation",
        "public_model",
        "raw_body",
        "timezone",
    )

    def __init__(
        self,
        identity: Identity,
        public_model: str,
        operation: str,
        body: dict[str, Any],
        raw_body: bytes,
        *,
        now: float,
        timezone: str,
        prices: tuple[Price, ...],
        default_max_tokens: int,
        periods: Callable[[str, str, float], Period],
        deployment_id: str | None = None,
    ) -> None:
        self.identity = identity
        self.public_model = public_model
        self.operation = operation
        self.body = body
        self.raw_body = raw_body
        self.deployment_id = deployment_id
        #: Wall-clock time of the request, epoch seconds.
        self.now = now
        #: The zone calendar periods are counted in for the limit being charged: the team's for
        #: key and team limits (when it has one), ``limits.timezone`` otherwise.
        self.timezone = timezone
        self.default_max_tokens = default_max_tokens
        self._prices = prices
        self._periods = periods
        self._estimate: int | None = None
        self._bound: int | None = None
        self._completion: int | None = None
        self._cost: Decimal | None = None

    def for_deployment(self, deployment_id: str, prices: tuple[Price, ...]) -> LimitRequest:
        """The same request as seen before an attempt on one deployment (its price only)."""
        copy = LimitRequest(
            self.identity,
            self.public_model,
            self.operation,
            self.body,
            self.raw_body,
            now=self.now,
            timezone=self.timezone,
            prices=prices,
            default_max_tokens=self.default_max_tokens,
            periods=self._periods,
            deployment_id=deployment_id,
        )
        copy._estimate, copy._bound, copy._completion = (
            self._estimate,
            self._bound,
            self._completion,
        )
        return copy

    @property
    def limits(self) -> Mapping[str, Any]:
        """Per-key and per-team limits the auth method attached (``identity.metadata``)."""
        value = self.identity.metadata.get("limits")
        return value if isinstance(value, Mapping) else {}

    @property
    def prompt_tokens(self) -> int:
        """An estimate of the prompt's tokens (about 4 characters per token)."""
        if self._estimate is None:
            self._estimate = estimate_prompt_tokens(self.operation, self.body)
        return self._estimate

    @property
    def prompt_tokens_bound(self) -> int:
        """At least the prompt's real token count (its size in bytes)."""
        if self._bound is None:
            self._bound = bound_prompt_tokens(self.raw_body, self.body)
        return self._bound

    @property
    def max_completion_tokens(self) -> int:
        """The most output tokens the request allows (``limits.default_max_tokens`` if unset)."""
        if self._completion is None:
            self._completion = max_completion_tokens(
                self.operation, self.body, self.default_max_tokens
            )
        return self._completion

    @property
    def worst_case_cost(self) -> Decimal | None:
        """The most the request can cost in USD on any deployment that may serve it (its
        model's, its fallbacks'); ``None`` when none of them has a known price."""
        if self._cost is None and self._prices:
            prompt, completion = self.prompt_tokens_bound, self.max_completion_tokens
            self._cost = max(price.worst_case(prompt, completion) for price in self._prices)
        return self._cost

    def period(self, kind: str) -> Period:
        """The current ``day``, ``week``, ``month`` or ``total`` period in :attr:`timezone`."""
        return self._periods(kind, self.timezone, self.now)
