"""Retries, fallbacks, breakers and deadlines, with scripted adapters (no network)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from gateway_core.api import ProviderCall
from gateway_core.errors import (
    InvalidRequest,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from gateway_core.gateway import Gateway
from gateway_core.routing.breaker import BreakerState
from gateway_core.testing import settings_from_mapping
from tests.plugins import scripted_provider

MASTER = "sk-test-master-key-0123456789"


def scripted(deployment_id: str, *outcomes: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "scripted",
        "id": deployment_id,
        "outcomes": list(outcomes) or ["ok"],
        **extra,
    }


def gateway_for(models: list[dict[str, Any]], **routing: Any) -> Gateway:
    routing = {"strategy": "priority", "backoff_initial": 0, **routing}
    settings = settings_from_mapping(
        {"auth": {"master_key": MASTER}, "routing": routing, "models": models}
    )
    gateway = Gateway(settings, {"scripted": scripted_provider})
    gateway.build_router()
    scripted_provider.CALLS.clear()
    return gateway


def call(model: str, stream: bool = False) -> ProviderCall:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return ProviderCall("chat", body, orjson.dumps(body), model, stream, "req-test")


def complete(gateway: Gateway, model: str, deadline: float | None = None):
    route = gateway.router.routes[model]
    return asyncio.run(gateway.executor.complete(call(model), route, deadline))


def served_by(served) -> str:
    return orjson.loads(served.result.body)["served_by"]


def test_retries_on_the_next_deployment() -> None:
    gateway = gateway_for(
        [
            {
                "name": "m",
                "deployments": [
                    scripted("a", "fail"),
                    scripted("b", "rate:3"),
                    scripted("c", "ok"),
                ],
            }
        ]
    )
    served = complete(gateway, "m")
    assert served_by(served) == "c" and served.attempts == 3
    assert scripted_provider.CALLS == ["a", "b", "c"]


def test_attempt_budget_is_respected() -> None:
    gateway = gateway_for(
        [
            {
                "name": "m",
                "max_attempts": 2,
                "deployments": [scripted("a", "fail"), scripted("b", "fail"), scripted("c", "ok")],
            }
        ]
    )
    with pytest.raises(UpstreamError) as caught:
        complete(gateway, "m")
    assert scripted_provider.CALLS == ["a", "b"]
    assert caught.value.headers["x-gateway-attempts"] == "2"


def test_client_errors_are_not_retried_and_do_not_hurt_the_deployment() -> None:
    gateway = gateway_for(
        [{"name": "m", "deployments": [scripted("a", "client"), scripted("b", "ok")]}]
    )
    with pytest.raises(InvalidRequest):
        complete(gateway, "m")
    assert scripted_provider.CALLS == ["a"]
    first = gateway.router.routes["m"].deployments[0]
    assert (first.successes, first.failures, first.in_flight) == (1, 0, 0)


def test_unexpected_adapter_exceptions_are_retried_elsewhere() -> None:
    gateway = gateway_for([{"name": "m", "deployments": [scripted("a", "boom"), scripted("b")]}])
    assert served_by(complete(gateway, "m")) == "b"


def test_fallback_model_answers_when_every_deployment_fails() -> None:
    gateway = gateway_for(
        [
            {
                "name": "main",
                "fallbacks": ["spare"],
                "deployments": [scripted("a", "fail"), scripted("b", "fail")],
            },
            {"name": "spare", "deployments": [scripted("s", "ok")]},
        ]
    )
    served = complete(gateway, "main")
    assert served_by(served) == "s" and served.route.name == "spare" and served.attempts == 3


@pytest.mark.parametrize(
    ("outcome", "expected"), [("context", "big"), ("policy", "lenient"), ("client", None)]
)
def test_special_fallbacks_follow_the_error(outcome: str, expected: str | None) -> None:
    gateway = gateway_for(
        [
            {
                "name": "main",
                "fallbacks": ["spare"],
                "context_window_fallbacks": ["big"],
                "content_policy_fallbacks": ["lenient"],
                "deployments": [scripted("a", outcome)],
            },
            {"name": "spare", "deployments": [scripted("s")]},
            {"name": "big", "deployments": [scripted("big")]},
            {"name": "lenient", "deployments": [scripted("lenient")]},
        ]
    )
    if expected is None:
        with pytest.raises(InvalidRequest):
            complete(gateway, "main")
    else:
        assert served_by(complete(gateway, "main")) == expected


def test_breaker_opens_and_the_broken_deployment_is_skipped() -> None:
    gateway = gateway_for(
        [{"name": "m", "deployments": [scripted("bad", "fail"), scripted("good")]}],
        circuit_breaker={"consecutive_failures": 2, "cooldown": 60},
    )
    for _ in range(6):
        assert served_by(complete(gateway, "m")) == "good"
    assert scripted_provider.CALLS.count("bad") == 2
    bad = gateway.router.routes["m"].deployments[0]
    assert bad.breaker.state is BreakerState.OPEN


def test_retry_after_opens_the_circuit_for_that_long() -> None:
    gateway = gateway_for([{"name": "m", "deployments": [scripted("a", "rate:30")]}])
    with pytest.raises(UpstreamRateLimited):
        complete(gateway, "m")
    # While the upstream's wait lasts, the gateway answers 429 itself without calling it.
    with pytest.raises(UpstreamRateLimited) as caught:
        complete(gateway, "m")
    assert int(caught.value.headers["Retry-After"]) in (29, 30)
    assert scripted_provider.CALLS == ["a"]


def test_cooling_down_after_failures_is_503_with_retry_after() -> None:
    gateway = gateway_for(
        [{"name": "m", "deployments": [scripted("a", "fail")]}],
        circuit_breaker={"consecutive_failures": 1, "cooldown": 20},
    )
    with pytest.raises(UpstreamError):
        complete(gateway, "m")
    with pytest.raises(ServiceUnavailable) as caught:
        complete(gateway, "m")
    assert int(caught.value.headers["Retry-After"]) in (19, 20)


def test_first_byte_timeout_moves_on() -> None:
    gateway = gateway_for(
        [
            {
                "name": "m",
                "deployments": [
                    scripted("slow", "slow:2", timeouts={"first_byte": 0.1}),
                    scripted("fast"),
                ],
            }
        ]
    )
    started = time.monotonic()
    assert served_by(complete(gateway, "m")) == "fast"
    assert time.monotonic() - started < 1.5
    assert gateway.router.routes["m"].deployments[0].failures == 1


def test_the_client_deadline_stops_everything_without_blaming_the_deployment() -> None:
    gateway = gateway_for([{"name": "m", "deployments": [scripted("slow", "slow:2")]}])
    with pytest.raises(UpstreamTimeout, match="deadline"):
        complete(gateway, "m", deadline=time.monotonic() + 0.2)
    slow = gateway.router.routes["m"].deployments[0]
    assert (slow.failures, slow.in_flight) == (0, 0)
    assert slow.breaker.state is BreakerState.CLOSED


def test_deadline_header_parsing() -> None:
    gateway = gateway_for([{"name": "m", "deployments": [scripted("a")]}], deadline=60)
    executor = gateway.executor
    now = time.monotonic()
    assert executor.deadline_for({}) == pytest.approx(now + 60, abs=1)
    assert executor.deadline_for({"x-gateway-timeout": "2.5"}) == pytest.approx(now + 2.5, abs=1)
    assert executor.deadline_for({"x-stainless-timeout": "10"}) == pytest.approx(now + 10, abs=1)
    assert executor.deadline_for({"x-stainless-timeout": "soon"}) == pytest.approx(now + 60, abs=1)
    with pytest.raises(InvalidRequest) as caught:
        executor.deadline_for({"x-gateway-timeout": "-1"})
    assert caught.value.param == "x-gateway-timeout"


def test_streams_retry_before_the_first_event_and_hold_a_lease() -> None:
    gateway = gateway_for(
        [{"name": "m", "deployments": [scripted("a", "fail"), scripted("b", "ok")]}]
    )
    route = gateway.router.routes["m"]

    async def run() -> list[bytes]:
        served = await gateway.executor.open_stream(call("m", stream=True), route, None)
        assert route.deployments[1].in_flight == 1
        rest = [chunk async for chunk in served.result.events]
        served.result.lease.finish(None)
        return [served.result.first, *rest]

    events = asyncio.run(run())
    assert b'"served_by":"b"' in events[0] and len(events) == 2
    assert [d.in_flight for d in route.deployments] == [0, 0]
    assert route.deployments[1].successes == 1
    assert route.deployments[1].ttft_ewma is not None


def test_operations_a_model_cannot_serve_are_a_400_and_skip_deployments() -> None:
    from tests.plugins import echo_provider

    settings = settings_from_mapping(
        {
            "auth": {"master_key": MASTER},
            "routing": {"strategy": "priority"},
            "models": [
                {"name": "chat-only", "deployments": [{"provider": "echo"}]},
                {"name": "mixed", "deployments": [{"provider": "echo"}, scripted("s")]},
            ],
        }
    )
    gateway = Gateway(settings, {"scripted": scripted_provider, "echo": echo_provider})
    gateway.build_router()
    assert gateway.router.routes["chat-only"].operations == {"chat"}
    embed = ProviderCall("embeddings", {"model": "mixed", "input": "x"}, b"", "mixed", False, "r")
    served = asyncio.run(gateway.executor.complete(embed, gateway.router.routes["mixed"], None))
    assert served.deployment.id == "s"  # the echo deployment, chat only, was not tried
    only_chat = gateway.router.routes["chat-only"]
    with pytest.raises(InvalidRequest) as caught:
        asyncio.run(gateway.executor.complete(embed, only_chat, None))
    assert caught.value.code == "unsupported_operation" and caught.value.status == 400
