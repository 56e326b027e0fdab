"""The limits engine on the real request path (pipeline and executor), in-process backend and
scripted adapters: no network except where a dead or silent Redis is the point."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import orjson
import pytest

from gateway_core import pipeline
from gateway_core.api import Identity
from gateway_core.config import ConfigError
from gateway_core.errors import QuotaExceeded, RateLimited, ServiceUnavailable
from gateway_core.gateway import Gateway
from gateway_core.limits import LimitsEngine
from gateway_core.limits.alerts import LimitAlert
from gateway_core.testing import free_port, settings_from_mapping
from gateway_core.usage.records import Usage
from tests.plugins import scripted_provider

MASTER = "sk-test-master-key-0123456789"
ROOT = Identity(subject="master", method="master_key", role="admin")


def scripted(deployment_id: str, *outcomes: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "scripted",
        "id": deployment_id,
        "outcomes": list(outcomes) or ["ok"],
    } | extra


def gateway_for(
    limits: dict[str, Any], models: list[dict[str, Any]] | None = None, **extra
) -> Gateway:
    models = models or [{"name": "demo", "deployments": [scripted("d1")]}]
    settings = settings_from_mapping(
        {
            "auth": {"master_key": MASTER},
            "routing": {"strategy": "priority", "backoff_initial": 0},
            "limits": limits,
            "models": models,
            **extra,
        }
    )
    gateway = Gateway(settings, {"scripted": scripted_provider})
    gateway.build_router()
    return gateway


def key(key_id: str, team: str | None = None, **limits: Any) -> Identity:
    return Identity(subject=key_id, method="virtual_key", team_id=team, metadata={"limits": limits})


async def begin(gateway: Gateway, identity: Identity = ROOT, model: str = "demo", **body: Any):
    raw = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], **body})
    return await pipeline.begin(gateway, identity, raw, "chat", "req", {})


def run(gateway: Gateway, test) -> None:
    async def main() -> None:
        await gateway.limits.start()
        try:
            await test()
        finally:
            await gateway.limits.close()

    asyncio.run(main())


def refused(coroutine) -> RateLimited:
    async def catch() -> RateLimited:
        with pytest.raises(RateLimited) as caught:
            await coroutine
        return caught.value

    return catch()


# -- tokens and requests ----------------------------------------------------------------------


def test_tokens_are_reserved_then_replaced_by_real_usage() -> None:
    gateway = gateway_for({"default_tpm": 1000})

    async def test() -> None:
        first = await begin(gateway, max_tokens=100)
        reserved = 1000 - int(first.admission.headers["x-ratelimit-remaining-tokens"])
        assert 100 < reserved < 120  # max_tokens plus a small prompt estimate
        first.admission.attempt_finished(gateway.router.routes["demo"].deployments[0], True)
        await first.admission.settle(Usage(10, 5, 15), None)
        second = await begin(gateway, max_tokens=100)
        assert int(second.admission.headers["x-ratelimit-remaining-tokens"]) == 1000 - 15 - reserved

    run(gateway, test)


def test_unanswered_requests_give_tokens_back_but_still_count_as_requests() -> None:
    gateway = gateway_for({"default_rpm": 10, "default_tpm": 1000})

    async def test() -> None:
        first = await begin(gateway, max_tokens=500)
        await first.admission.settle(None, None)  # no upstream answered
        second = await begin(gateway, max_tokens=500)
        headers = second.admission.headers
        assert headers["x-ratelimit-remaining-requests"] == "8"
        assert int(headers["x-ratelimit-remaining-tokens"]) > 1000 - 600

    run(gateway, test)


def test_database_limits_replace_the_defaults_per_key_and_per_team() -> None:
    gateway = gateway_for({"default_rpm": 5})

    async def test() -> None:
        strict = key("key_strict", rpm=1)
        await begin(gateway, strict)
        error = await refused(begin(gateway, strict))
        assert "key key_strict" in error.message and "Limit 1, Used 1" in error.message
        for _ in range(5):
            await begin(gateway, key("key_default"))
        assert "Limit 5" in (await refused(begin(gateway, key("key_default")))).message

        alice, bob = key("key_a", "team_x", team_rpm=3), key("key_b", "team_x", team_rpm=3)
        for identity in (alice, bob, alice):
            await begin(gateway, identity)
        error = await refused(begin(gateway, bob))
        assert "team team_x" in error.message
        assert error.headers["x-gateway-limit"] == "rpm:team"

    run(gateway, test)


def test_model_and_global_scopes_and_model_filters() -> None:
    models = [
        {"name": "demo", "deployments": [scripted("d1")]},
        {"name": "other", "deployments": [scripted("d2")]},
        {"name": "free", "deployments": [scripted("d3")]},
    ]
    rules = [
        {"strategy": "rpm", "scope": "model", "limit": 2, "models": ["demo", "other"]},
        {"strategy": "rpm", "scope": "global", "limit": 3, "models": ["demo", "other"]},
    ]
    gateway = gateway_for({"rules": rules}, models)

    async def test() -> None:
        await begin(gateway, model="demo")
        await begin(gateway, model="demo")
        assert "model demo" in (await refused(begin(gateway, model="demo"))).message
        await begin(gateway, model="other")
        error = await refused(begin(gateway, model="other"))
        assert "for the gateway" in error.message and "Limit 3" in error.message
        for _ in range(10):
            await begin(gateway, model="free")

    run(gateway, test)


# -- budgets ----------------------------------------------------------------------------------


def priced(deployment_id: str, *outcomes: str) -> dict[str, Any]:
    return scripted(deployment_id, *outcomes, price={"input": 100, "output": 1000})


def test_budgets_hold_the_worst_case_and_keep_the_real_cost() -> None:
    rules = [{"strategy": "budget", "scope": "global", "limit": "0.25", "period": "month"}]
    gateway = gateway_for({"rules": rules}, [{"name": "demo", "deployments": [priced("d1")]}])

    async def test() -> None:
        # Worst case: the body's bytes at $100/M plus 100 output tokens at $1000/M = ~$0.11.
        held = [await begin(gateway, max_tokens=100) for _ in range(2)]
        error = await refused(begin(gateway, max_tokens=100))
        assert isinstance(error, QuotaExceeded) and error.code == "insufficient_quota"
        assert error.status == 429 and error.type == "insufficient_quota"
        assert "Budget exceeded for the gateway (this month; resets" in error.message
        assert "Limit $0.25" in error.message
        assert int(error.headers["Retry-After"]) > 0  # until the month ends
        for exchange in held:
            exchange.admission.attempt_finished(gateway.router.routes["demo"].deployments[0], True)
            await exchange.admission.settle(Usage(10, 10, 20), Decimal("0.011"))
        # $0.022 spent: two more worst cases fit, a third does not.
        await begin(gateway, max_tokens=100)
        await begin(gateway, max_tokens=100)
        assert isinstance(await refused(begin(gateway, max_tokens=100)), QuotaExceeded)

    run(gateway, test)


def test_a_soft_limit_alerts_once_per_period(caplog) -> None:
    rules = [{"strategy": "budget", "scope": "key", "period": "day", "soft_ratio": "0.5"}]
    gateway = gateway_for({"rules": rules}, [{"name": "demo", "deployments": [priced("d1")]}])
    alerts: list[LimitAlert] = []
    gateway.limits.on_alert(alerts.append)
    spender = key("key_s", budget_usd=Decimal(1))

    async def test() -> None:
        for _ in range(4):
            exchange = await begin(gateway, spender, max_tokens=10)
            exchange.admission.attempt_finished(gateway.router.routes["demo"].deployments[0], True)
            await exchange.admission.settle(Usage(1, 1, 2), Decimal("0.2"))

    with caplog.at_level(logging.WARNING, logger="gateway.limits"):
        run(gateway, test)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.strategy, alert.scope, alert.scope_id) == ("budget", "key", "key_s")
    assert (alert.used, alert.limit, alert.threshold) == ("$0.60", "$1.00", "$0.50")
    assert sum("soft limit reached" in r.message for r in caplog.records) == 1


def test_budget_periods_restart_at_midnight_in_the_teams_zone() -> None:
    rules = [{"strategy": "budget", "scope": "team", "limit": "0.2", "period": "day"}]
    gateway = gateway_for({"rules": rules}, [{"name": "demo", "deployments": [priced("d1")]}])
    tokyo = key("key_t", "team_tokyo", timezone="Asia/Tokyo")
    utc = key("key_u", "team_utc")

    def at(text: str) -> float:
        return dt.datetime.fromisoformat(text).timestamp()

    async def test() -> None:
        gateway.limits.clock = lambda: at("2026-11-30T14:59:00+00:00")  # Tokyo: 23:59
        for identity in (tokyo, utc):
            exchange = await begin(gateway, identity, max_tokens=100)
            exchange.admission.attempt_finished(gateway.router.routes["demo"].deployments[0], True)
            await exchange.admission.settle(Usage(1, 1, 2), Decimal("0.2"))
            assert isinstance(await refused(begin(gateway, identity)), QuotaExceeded)
        gateway.limits.clock = lambda: at("2026-11-30T15:01:00+00:00")  # Tokyo: 00:01, Dec 1
        await begin(gateway, tokyo, max_tokens=100)
        assert isinstance(await refused(begin(gateway, utc)), QuotaExceeded)

    run(gateway, test)


# -- deployments ------------------------------------------------------------------------------


def test_deployments_at_their_limit_are_skipped_then_the_client_hears_which() -> None:
    models = [
        {
            "name": "demo",
            "deployments": [
                scripted("east", limits={"rpm": 1}),
                scripted("west", limits={"rpm": 1}),
            ],
        }
    ]
    gateway = gateway_for({}, models)

    async def test() -> None:
        served = []
        for _ in range(2):
            exchange = await begin(gateway)
            served.append((await pipeline.complete(exchange)).deployment.id)
        assert served == ["east", "west"]
        exchange = await begin(gateway)
        error = await refused(pipeline.complete(exchange))
        assert "Every deployment of model 'demo' is at its limit" in error.message
        assert "deployment east" in error.message and "deployment west" in error.message
        assert error.retry_after is not None and 0 < error.retry_after <= 60

    run(gateway, test)


def test_a_failed_attempt_gives_its_deployment_slot_back_at_once() -> None:
    models = [
        {
            "name": "demo",
            "deployments": [
                scripted("flaky", "fail", "ok", limits={"parallel": 1}),
                scripted("spare", "slow:0.3"),
            ],
        }
    ]
    gateway = gateway_for({}, models)
    scripted_provider.CALLS.clear()

    async def test() -> None:
        first = asyncio.create_task(pipeline.complete(await begin(gateway)))
        while "spare" not in scripted_provider.CALLS:  # flaky failed; spare is answering slowly
            await asyncio.sleep(0.01)
        second = await pipeline.complete(await begin(gateway))
        assert second.deployment.id == "flaky", "the failed attempt's slot was given back"
        assert (await first).deployment.id == "spare"

    run(gateway, test)


def test_deployment_parallel_limits_hold_until_the_request_ends() -> None:
    models = [{"name": "demo", "deployments": [scripted("one", limits={"parallel": 1})]}]
    gateway = gateway_for({}, models)

    async def test() -> None:
        holder = await begin(gateway)
        route = gateway.router.routes["demo"]
        assert await holder.admission.acquire(route.deployments[0])
        other = await begin(gateway)
        error = await refused(other.admission.acquire(route.deployments[0]))
        assert "requests in flight" in error.message.lower()
        await holder.admission.settle(None, None)
        assert await other.admission.acquire(route.deployments[0])

    run(gateway, test)


# -- the backend failing ----------------------------------------------------------------------


def test_an_unreachable_backend_fails_open_by_default_and_closed_when_asked() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for mode in ("open", "closed"):
        gateway = gateway_for({"default_rpm": 1, "failure_mode": mode}, redis={"url": dead})
        engine = gateway.limits

        async def test(mode: str = mode, engine=engine, gateway=gateway) -> None:
            for _ in range(3):
                if mode == "open":
                    await begin(gateway)  # admitted without limits, over and over
                else:
                    with pytest.raises(ServiceUnavailable) as caught:
                        await begin(gateway)
                    assert caught.value.headers["Retry-After"] == "1"
            assert engine.stats.backend_errors["admit"] == 3
            assert (engine.stats.failed_open, engine.stats.failed_closed) == (
                (3, 0) if mode == "open" else (0, 3)
            )

        run(gateway, test)


def test_a_silent_backend_is_given_up_on_after_the_timeout() -> None:
    """A Redis that accepts connections and never answers (frozen) must not hang requests."""

    async def main() -> None:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(-1)

        server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        gateway = gateway_for(
            {"default_rpm": 5, "failure_mode": "closed", "timeout": 0.2},
            redis={"url": f"redis://127.0.0.1:{port}/0"},
        )
        async with server:
            with pytest.raises(ServiceUnavailable):
                await asyncio.wait_for(begin(gateway), 10)
        assert gateway.limits.stats.failed_closed == 1

    asyncio.run(main())


# -- configuration ----------------------------------------------------------------------------


def test_rules_are_validated_with_their_location() -> None:
    rules = [
        {"strategy": "rpd", "scope": "key", "limit": 1},
        {"strategy": "budget", "scope": "team", "limit": 1, "period": "fortnight"},
        {"strategy": "rpm", "scope": "model", "limit": 1, "models": ["nope"]},
        {"strategy": "rpm", "scope": "model"},
    ]
    with pytest.raises(ConfigError) as caught:
        gateway_for({"rules": rules})
    problems = "\n".join(caught.value.problems)
    assert "limits.rules[0].strategy: Unknown limit strategy type 'rpd'" in problems
    assert "limits.rules[1].period" in problems
    assert "limits.rules[2].models: 'nope' is not a configured model" in problems
    assert "limits.rules[3].limit: required" in problems


def test_without_the_builtin_strategies_nothing_is_limited_or_measured() -> None:
    gateway = gateway_for({}, plugins={"limits": False})
    assert type(gateway.limits) is LimitsEngine and not gateway.limits.needs_usage


def test_an_unknown_team_zone_falls_back_to_the_configured_one() -> None:
    rules = [{"strategy": "budget", "scope": "team", "limit": "1", "period": "day"}]
    gateway = gateway_for(
        {"rules": rules, "timezone": "Asia/Tokyo"},
        [{"name": "demo", "deployments": [priced("d1")]}],
    )

    async def test() -> None:
        zoned = key("key_z", "team_z", timezone="Mars/Olympus")
        exchange = await begin(gateway, zoned, max_tokens=10)
        (reservation,) = exchange.admission.reservations
        assert reservation.period.timezone == "Asia/Tokyo"

    run(gateway, test)
