"""The import surface for plugin authors.

Everything a plugin needs lives here or in :mod:`gateway_core.errors`: the four base classes
(:class:`ProviderAdapter`, :class:`AuthMethod`, :class:`LimitStrategy`, :class:`UsageSink`),
the values that travel between the core and plugins, and the upstream HTTP client type.
Subclass a base class, give it a ``type_name`` and a ``config_model``, and add it to its
registry from the matching hook in :mod:`gateway_core.hookspecs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from gateway_core.config import Settings, Timeouts
from gateway_core.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    retry_after_header,
)
from gateway_core.http import UpstreamClient, UpstreamResponse
from gateway_core.limits.charges import Hold, Outcome, Period, Refusal, Window
from gateway_core.limits.request import LimitRequest

if TYPE_CHECKING:
    from sanic import Request, Sanic

    from gateway_core.routing.router import Deployment

__all__ = [
    "AdapterContext",
    "AuthMethod",
    "AuthenticationFailed",
    "EmptyConfig",
    "GatewayError",
    "Hold",
    "Identity",
    "InvalidRequest",
    "LimitRequest",
    "LimitStrategy",
    "Outcome",
    "Period",
    "PermissionDenied",
    "ProviderAdapter",
    "ProviderCall",
    "ProviderReply",
    "RateLimited",
    "Refusal",
    "RoutingStrategy",
    "Timeouts",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UsageEvent",
    "UsageSink",
    "Window",
]


class EmptyConfig(BaseModel):
    """The config model of a plugin class that takes no settings: any key is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- providers


@dataclass(slots=True, frozen=True)
class AdapterContext:
    """What the core hands an adapter when it builds one for a deployment.

    ``http`` is the worker's shared, pooled upstream client: adapters never open their own
    connections per request. ``timeouts`` are the deployment's (or the gateway default).
    """

    deployment_id: str
    public_model: str
    http: UpstreamClient
    timeouts: Timeouts


@dataclass(slots=True)
class ProviderCall:
    """One client request, as the adapter sees it.

    ``body`` is the client's parsed JSON and ``raw_body`` the bytes it was parsed from: an
    adapter that can forward the bytes unchanged should, and must treat ``body`` as read-only
    (the router may hand the same call to another deployment).
    """

    operation: str  # "chat" or "embeddings"
    body: dict[str, Any]
    raw_body: bytes
    public_model: str
    stream: bool
    request_id: str


@dataclass(slots=True)
class ProviderReply:
    """A complete, successful answer already in OpenAI's JSON shape."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class ProviderAdapter:
    """Speaks one provider's wire format for one configured deployment.

    Contract:

    * ``type_name`` is what deployers write as ``provider:``; ``config_model`` validates the
      deployment's other keys (unknown keys should be rejected: ``extra="forbid"``).
    * An instance is built once per worker per deployment, with its validated config and an
      :class:`AdapterContext`. Keep per-request work small: precompute URLs and headers here.
    * ``chat`` and ``embeddings`` return a :class:`ProviderReply` whose body is OpenAI JSON.
    * ``stream_chat`` is an async iterator of complete Server-Sent Events in OpenAI's chunk
      format (each item ends with a blank line; several events in one item are fine). It must
      raise before yielding anything if the upstream refuses the request, so that the router can
      still retry; a failure after the first event is raised too, and the core turns it into an
      SSE error event. Do not emit ``data: [DONE]``: the core ends the stream.
    * Failures are :class:`~gateway_core.errors.GatewayError` subclasses: ``UpstreamError``
      (``retryable`` tells the router whether another deployment may succeed),
      ``UpstreamTimeout``, ``RateLimited`` (with ``retry_after``), ``InvalidRequest`` for a
      request the provider rejected as malformed.
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]] = EmptyConfig
    #: Operations this adapter serves; others answer 400 without calling it.
    operations: ClassVar[frozenset[str]] = frozenset({"chat", "embeddings"})

    def __init__(self, config: Any, context: AdapterContext) -> None:
        self.config = config
        self.context = context

    async def chat(self, call: ProviderCall) -> ProviderReply:
        raise NotImplementedError

    def stream_chat(self, call: ProviderCall) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def embeddings(self, call: ProviderCall) -> ProviderReply:
        raise NotImplementedError

    async def close(self) -> None:
        """Release anything the adapter holds beyond the shared client (rarely needed)."""


# --------------------------------------------------------------------------- routing


class RoutingStrategy:
    """Orders a model's available deployments for one request.

    ``order`` receives the deployments whose circuit breakers would let a request through right
    now and returns them best first; the router tries them in that order until one answers (up
    to the model's attempt budget), so the order is also the retry order. It runs on every
    request: keep it to arithmetic on the deployments' read-only attributes ``id``, ``index``,
    ``weight``, ``priority``, ``in_flight``, ``latency_ewma`` and ``ttft_ewma`` (seconds, or
    ``None`` before the first sample). Options come from the model's ``strategy_options``,
    validated against ``config_model``.
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: Any) -> None:
        self.config = config

    def order(self, deployments: Sequence[Deployment], call: ProviderCall) -> list[Deployment]:
        raise NotImplementedError


# --------------------------------------------------------------------------- auth


@dataclass(slots=True, frozen=True)
class Identity:
    """Who is calling, as decided by an auth method.

    ``allowed_models`` of ``None`` means every configured model.
    """

    subject: str
    method: str
    team_id: str | None = None
    role: str | None = None
    allowed_models: frozenset[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


class AuthMethod:
    """Turns a request into an :class:`Identity`.

    ``authenticate`` answers in three ways: an ``Identity`` (accepted), ``None`` (this method
    does not recognise the credentials; the next configured method is asked), or raise
    :class:`~gateway_core.errors.AuthenticationFailed` / ``PermissionDenied`` to stop the chain.
    It runs on every request: compare secrets in constant time and do no I/O that a cache
    could avoid. ``token`` is the bearer token already taken from the ``Authorization`` header,
    or ``None``.
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: Any, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    async def startup(self, app: Sanic) -> None:
        """Called once per worker after the core's resources (database, shared state) are
        ready; fetch what ``authenticate`` needs from ``app.ctx.gateway`` here."""

    async def authenticate(self, request: Request, token: str | None) -> Identity | None:
        raise NotImplementedError


# --------------------------------------------------------------------------- usage and limits


@dataclass(slots=True)
class UsageEvent:
    """One client request's outcome, for accounting (one per request, not per attempt)."""

    request_id: str
    timestamp: float
    public_model: str
    status: int
    subject: str | None = None
    team_id: str | None = None
    end_user: str | None = None
    deployment_id: str | None = None
    provider: str | None = None
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    cost: Decimal | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    streamed: bool = False
    error_code: str | None = None
    #: Token counts were estimated (a stream the client left before its usage chunk).
    estimated: bool = False


class UsageSink:
    """Receives batches of usage events off the request path.

    ``write`` is awaited by a background drainer, never by a request; it may raise, and the core
    isolates the failure from other sinks.
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: Any) -> None:
        self.config = config

    async def start(self) -> None:
        """Open what ``write`` needs, once per worker (the database is already connected)."""

    async def write(self, events: Sequence[UsageEvent]) -> None:
        """Deliver a batch, or raise: the core then spools the batch and replays it later, so
        a sink that can tell (the database sink does, by request id) should ignore events it
        already has."""
        raise NotImplementedError

    async def write_alert(self, alert: Mapping[str, Any]) -> None:
        """An operational alert (e.g. a soft budget crossed); sinks that don't notify ignore it."""

    async def close(self) -> None:
        """Flush and release resources at shutdown."""


class LimitStrategy:
    """Says what one request takes from a limit, and what it really used afterwards.

    A deployer configures a limit as a *rule*: a strategy, a scope and a number,
    ``{strategy: rpm, scope: team, limit: 600}``. Scopes are ``key`` (the caller's
    ``identity.subject``), ``team``, ``model`` (the public model asked for), ``deployment``
    (checked before each attempt on it) and ``global``; one counter exists per scope value. The
    rule's other keys are the strategy's options, validated against ``config_model``; one
    instance is built per rule, at start-up.

    Contract:

    * ``charge(request)`` runs on every request the rule applies to and returns what the
      request takes: a :class:`Window` (counted for so many seconds: rate limits), a
      :class:`Hold` (held while the request runs, then replaced by what ``settle`` returns:
      concurrency, budgets, calendar-period quotas) or ``None`` (this request does not count).
      It must be pure arithmetic on the :class:`LimitRequest` (no I/O): the engine checks and
      reserves every charge of a request, across all rules, in one atomic backend operation.
    * ``settle(reserved, outcome)`` returns the amount the request really used, replacing the
      reservation (a refund when smaller). The default keeps the reservation.
    * Amounts and limits are integers in the strategy's unit. ``units(value)`` converts a
      configured or per-key limit into it (a budget's dollars into millionths), ``format(units)``
      back for messages.
    * ``overrides`` maps a scope to the field of ``identity.metadata["limits"]`` holding a
      per-key or per-team limit from the database (``{"key": "rpm", "team": "team_rpm"}``): when
      set, it replaces the rule's ``limit`` for that caller. A rule without a ``limit`` applies
      only to callers with an override.
    * ``alert_at(limit)`` gives a soft threshold: the settlement that first reaches it logs a
      warning and raises an alert, once per counter and period across all instances.
    * ``refuse(refusal)`` words the error the client gets (429 ``rate_limit_exceeded`` with
      ``Retry-After`` by default; budgets answer ``insufficient_quota``).
    * ``header`` (``"requests"`` or ``"tokens"``) makes window limits report in the
      ``x-ratelimit-*-requests``/``-tokens`` response headers; the tightest limit is reported.
    * ``needs_usage`` asks the gateway to measure real token usage (streams then request it
      from the upstream on the client's behalf).
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel]] = EmptyConfig
    #: What is limited, for messages: "requests per minute (rpm)".
    label: ClassVar[str] = ""
    header: ClassVar[str | None] = None
    needs_usage: ClassVar[bool] = False
    overrides: ClassVar[Mapping[str, str]] = {}
    #: Scopes a rule of this strategy may use.
    scopes: ClassVar[frozenset[str]] = frozenset({"key", "team", "model", "deployment", "global"})

    def __init__(self, config: Any) -> None:
        self.config = config

    def units(self, value: Decimal | int) -> int:
        return int(value)

    def format(self, units: int) -> str:
        return str(units)

    def charge(self, request: LimitRequest) -> Window | Hold | None:
        raise NotImplementedError

    def settle(self, reserved: int, outcome: Outcome) -> int:
        return reserved

    def alert_at(self, limit: int) -> int:
        """A threshold (in units) whose first crossing per counter raises an alert: a budget's
        soft limit. 0 for none. Only amounts a :class:`Hold` keeps at settlement count."""
        return 0

    def refuse(self, refusal: Refusal) -> GatewayError:
        what = self.label or self.type_name
        retry = refusal.retry_after
        wait = f" Please try again in {retry_after_header(retry)}s." if retry is not None else ""
        message = (
            f"Rate limit reached for {refusal.holder} on {what}: "
            f"Limit {self.format(refusal.limit)}, Used {self.format(refusal.used)}, "
            f"Requested {self.format(refusal.requested)}.{wait}"
        )
        return RateLimited(message, retry_after=retry)
