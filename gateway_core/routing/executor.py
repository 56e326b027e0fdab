"""Running one client request against a model: order, attempt, retry, fall back.

The executor tries a model's available deployments in the order its strategy gives, up to the
model's attempt budget, with exponential backoff and jitter between attempts and one overall
deadline. When the model is exhausted it moves on to the model's fallbacks; a client error that
another model could avoid (context window exceeded, content policy) jumps to the matching
fallback list instead. Streams are attempted only until their first event: after that, nothing
is retried. The client's request is parsed once; every attempt reuses the same call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway_core.api import ProviderCall, ProviderReply
from gateway_core.config import RoutingSettings
from gateway_core.errors import (
    GatewayError,
    InvalidRequest,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from gateway_core.limits import UNLIMITED, Admission
from gateway_core.routing.router import Deployment, ModelRoute, Router

log = logging.getLogger("gateway.routing")

T = TypeVar("T")

CONTEXT_WINDOW_CODES = frozenset({"context_length_exceeded", "context_window_exceeded"})
CONTENT_POLICY_CODES = frozenset({"content_filter", "content_policy_violation"})
# The official openai SDK sends its own timeout in this header; we honour it when shorter.
SDK_TIMEOUT_HEADER = "x-stainless-timeout"


@dataclass(slots=True)
class Served(Generic[T]):
    """What answered: the result, the deployment, the model (maybe a fallback), attempts made."""

    result: T
    deployment: Deployment
    route: ModelRoute
    attempts: int


@dataclass(slots=True)
class StreamStart:
    first: bytes
    events: AsyncIterator[bytes]
    lease: StreamLease


class StreamLease:
    """Keeps a deployment's in-flight slot while its stream is relayed, then settles health."""

    __slots__ = ("_clock", "_done", "_started", "deployment")

    def __init__(self, deployment: Deployment, started: float, clock: Callable[[], float]) -> None:
        self.deployment = deployment
        self._started = started
        self._clock = clock
        self._done = False

    def finish(self, error: BaseException | None = None) -> None:
        """Settle once: success, failure, or (client went away) no verdict at all."""
        if self._done:
            return
        self._done = True
        deployment, now = self.deployment, self._clock()
        deployment.in_flight -= 1
        if error is None:
            deployment.successes += 1
            deployment.observe_latency(now - self._started)
            deployment.breaker.record_success(now)
        elif isinstance(error, asyncio.CancelledError | GeneratorExit):
            deployment.breaker.release()
        else:
            deployment.failures += 1
            deployment.breaker.record_failure(now)


class _Retryable(Exception):
    def __init__(self, error: GatewayError) -> None:
        self.error = error


class _Exhausted(Exception):
    def __init__(self, error: GatewayError) -> None:
        self.error = error


@dataclass(slots=True)
class _Progress:
    admission: Admission
    attempts: int = 0


def unsupported(model: str, operation: str) -> InvalidRequest:
    return InvalidRequest(
        f"The model '{model}' does not support {operation}.",
        param="model",
        code="unsupported_operation",
    )


def _cooling_down(route: ModelRoute, now: float) -> GatewayError:
    """Every circuit is open: 429 if upstreams asked us to wait, else 503; both say how long."""
    wait = min(d.breaker.retry_in(now) for d in route.deployments)
    if all(d.breaker.rate_limited for d in route.deployments):
        return UpstreamRateLimited(
            f"Every deployment of model '{route.name}' is rate limited upstream.", retry_after=wait
        )
    return ServiceUnavailable(
        f"Every deployment of model '{route.name}' is cooling down after failures.",
        retry_after=wait,
    )


class RouteExecutor:
    def __init__(
        self,
        router: Router,
        settings: RoutingSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.router = router
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    # -- entry points -------------------------------------------------------------------

    def deadline_for(self, headers: Mapping[str, str]) -> float | None:
        """Absolute deadline from config and the client's timeout headers, whichever is shorter."""
        limits = [self.settings.deadline] if self.settings.deadline is not None else []
        explicit = headers.get(self.settings.deadline_header)
        if explicit is not None:
            try:
                seconds = float(explicit)
            except ValueError:
                seconds = -1.0
            if not seconds > 0:
                raise InvalidRequest(
                    f"Header '{self.settings.deadline_header}' must be a positive number of "
                    "seconds.",
                    param=self.settings.deadline_header,
                )
            limits.append(seconds)
        sdk = headers.get(SDK_TIMEOUT_HEADER)
        if sdk is not None:
            with contextlib.suppress(ValueError):
                limits.append(float(sdk))
        positive = [limit for limit in limits if limit > 0]
        return self.clock() + min(positive) if positive else None

    async def complete(
        self,
        call: ProviderCall,
        route: ModelRoute,
        deadline: float | None,
        admission: Admission = UNLIMITED,
    ) -> Served[ProviderReply]:
        """A non-streaming call (chat or embeddings) with retries and fallbacks."""
        operation = call.operation

        async def start(deployment: Deployment) -> ProviderReply:
            if operation == "embeddings":
                return await deployment.adapter.embeddings(call)
            return await deployment.adapter.chat(call)

        return await self._serve(call, route, deadline, start, admission, streaming=False)

    async def open_stream(
        self,
        call: ProviderCall,
        route: ModelRoute,
        deadline: float | None,
        admission: Admission = UNLIMITED,
    ) -> Served[StreamStart]:
        """Start a stream: retries and fallbacks apply until its first event has arrived."""
        clock = self.clock

        async def start(deployment: Deployment) -> StreamStart:
            started = clock()
            events = deployment.adapter.stream_chat(call)
            try:
                first = await anext(events, b"")
            except BaseException:
                await events.aclose()
                raise
            return StreamStart(first, events, StreamLease(deployment, started, clock))

        return await self._serve(call, route, deadline, start, admission, streaming=True)

    # -- the loop -----------------------------------------------------------------------

    async def _serve(
        self,
        call: ProviderCall,
        route: ModelRoute,
        deadline: float | None,
        start: Callable[[Deployment], Awaitable[T]],
        admission: Admission,
        *,
        streaming: bool,
    ) -> Served[T]:
        progress = _Progress(admission=admission)
        plan = [route, *self._routes(route.fallbacks, {route.name})]
        switched = False
        last_error: GatewayError | None = None
        index = 0
        while index < len(plan):
            current = plan[index]
            index += 1
            try:
                result, deployment = await self._try_model(
                    current, call, deadline, start, streaming, progress
                )
            except _Exhausted as exhausted:
                last_error = exhausted.error
                continue
            except InvalidRequest as error:
                targets = self._special_fallbacks(route, error)
                if switched or not targets:
                    error.headers.setdefault("x-gateway-attempts", str(progress.attempts))
                    raise
                switched = True
                tried = {r.name for r in plan[:index]}
                plan = (
                    plan[:index]
                    + self._routes(targets, tried)
                    + [r for r in plan[index:] if r.name not in targets]
                )
                last_error = error
                continue
            return Served(result, deployment, current, progress.attempts)
        error = last_error or ServiceUnavailable(f"No deployment could serve '{route.name}'.")
        error.headers.setdefault("x-gateway-attempts", str(progress.attempts))
        raise error

    def _routes(self, names: tuple[str, ...], exclude: set[str]) -> list[ModelRoute]:
        return [self.router.routes[name] for name in names if name not in exclude]

    @staticmethod
    def _special_fallbacks(route: ModelRoute, error: InvalidRequest) -> tuple[str, ...]:
        if error.code in CONTEXT_WINDOW_CODES:
            return route.context_window_fallbacks
        if error.code in CONTENT_POLICY_CODES:
            return route.content_policy_fallbacks
        return ()

    async def _try_model(
        self,
        route: ModelRoute,
        call: ProviderCall,
        deadline: float | None,
        start: Callable[[Deployment], Awaitable[T]],
        streaming: bool,
        progress: _Progress,
    ) -> tuple[T, Deployment]:
        now = self.clock()
        capable = [d for d in route.deployments if call.operation in d.adapter.operations]
        if not capable:
            raise _Exhausted(unsupported(route.name, call.operation))
        candidates = [d for d in capable if d.breaker.available(now)]
        if not candidates:
            raise _Exhausted(_cooling_down(route, now))
        last: GatewayError | None = None
        tried = 0
        for deployment in route.strategy.order(candidates, call):
            if tried >= route.max_attempts:
                break
            if progress.attempts and not await self._backoff(progress.attempts, deadline):
                break
            if not await progress.admission.acquire(deployment):
                continue  # this deployment's own limits are spent: another one may serve
            if not deployment.breaker.acquire(self.clock()):
                progress.admission.attempt_finished(deployment, answered=False)
                continue
            tried += 1
            progress.attempts += 1
            try:
                result = await self._attempt(deployment, deadline, start, streaming)
            except _Retryable as retryable:
                progress.admission.attempt_finished(deployment, answered=False)
                last = retryable.error
                continue
            except GatewayError as error:  # the upstream answered, with the request's fault
                answered = not isinstance(error, UpstreamError)
                progress.admission.attempt_finished(deployment, answered=answered)
                raise
            except BaseException:
                progress.admission.attempt_finished(deployment, answered=False)
                raise
            progress.admission.attempt_finished(deployment, answered=True)
            return result, deployment
        raise _Exhausted(
            last or ServiceUnavailable(f"No deployment of model '{route.name}' is available.")
        )

    async def _attempt(
        self,
        deployment: Deployment,
        deadline: float | None,
        start: Callable[[Deployment], Awaitable[T]],
        streaming: bool,
    ) -> T:
        started = self.clock()
        limit = deployment.timeouts.first_byte
        deadline_bound = False
        if deadline is not None:
            remaining = deadline - started
            if remaining <= 0:
                deployment.breaker.release()
                raise UpstreamTimeout("The request's deadline passed before an answer arrived")
            deadline_bound = limit is None or remaining < limit
            limit = remaining if deadline_bound else limit
        deployment.in_flight += 1
        try:
            if limit is None:
                result = await start(deployment)
            else:
                async with asyncio.timeout(max(limit, 0.0)):
                    result = await start(deployment)
        except asyncio.CancelledError:
            deployment.in_flight -= 1
            deployment.breaker.release()
            raise
        except TimeoutError:
            if deadline_bound:
                # The client's deadline ran out, not the deployment's allowance: no verdict.
                deployment.in_flight -= 1
                deployment.breaker.release()
                raise UpstreamTimeout(
                    "The request's deadline passed before an answer arrived"
                ) from None
            self._failed(deployment)
            raise _Retryable(
                UpstreamTimeout(f"Deployment {deployment.id} did not start answering in time")
            ) from None
        except UpstreamError as error:
            retry_after = error.retry_after if isinstance(error, UpstreamRateLimited) else None
            self._failed(deployment, retry_after)
            if error.retryable:
                raise _Retryable(error) from None
            raise
        except GatewayError:
            # The upstream answered; the request itself was at fault. The deployment is healthy.
            self._succeeded(deployment, None)
            raise
        except Exception:
            log.exception("adapter of deployment %s failed unexpectedly", deployment.id)
            self._failed(deployment)
            raise _Retryable(
                UpstreamError(f"Deployment {deployment.id} failed unexpectedly")
            ) from None
        elapsed = self.clock() - started
        if streaming:
            deployment.observe_ttft(elapsed)
        else:
            self._succeeded(deployment, elapsed)
        return result

    def _succeeded(self, deployment: Deployment, elapsed: float | None) -> None:
        deployment.in_flight -= 1
        deployment.successes += 1
        if elapsed is not None:
            deployment.observe_latency(elapsed)
        deployment.breaker.record_success(self.clock())

    def _failed(self, deployment: Deployment, retry_after: float | None = None) -> None:
        deployment.in_flight -= 1
        deployment.failures += 1
        deployment.breaker.record_failure(self.clock(), retry_after)

    async def _backoff(self, attempts: int, deadline: float | None) -> bool:
        """Wait before the next attempt; ``False`` when the deadline leaves no time for it."""
        settings = self.settings
        delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (attempts - 1))
        delay *= 0.5 + random.random() / 2
        if deadline is not None and self.clock() + delay >= deadline:
            return False
        if delay > 0:
            await self.sleep(delay)
        return True
