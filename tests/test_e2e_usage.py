"""End to end: every request becomes one usage event, whatever happens to it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import openai
import pytest

from gateway_core.testservers import PostgresServer
from tests.conftest import MASTER_KEY, deployment

pytestmark = pytest.mark.e2e

PRICE = {"input": "2.00", "output": "8.00"}


def usage_config(upstream, **extra) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "usage": {"flush_interval": "50ms", "replay_interval": "200ms"},
        "models": [
            {
                "name": "demo",
                "deployments": [deployment(upstream.base_url(), price=PRICE, id="demo-main")],
            }
        ],
        **extra,
    }


def sqlite_rows(directory: Path, expected: int, timeout: float = 10.0) -> list[dict]:
    """The usage rows of a gateway whose SQLite file is in ``directory``, once ``expected``."""
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(directory / "gateway.sqlite3") as connection:
            connection.row_factory = sqlite3.Row
            rows = [
                dict(r) for r in connection.execute("SELECT * FROM gw_usage_record ORDER BY id")
            ]
        if len(rows) >= expected:
            return rows
        time.sleep(0.1)
    return rows


def client_for(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)


def test_plain_streamed_and_abandoned_requests_each_leave_one_event(
    gateway_process, mock_upstream, tmp_path: Path
) -> None:
    gateway = gateway_process(usage_config(mock_upstream))
    client = client_for(gateway)
    messages = [{"role": "user", "content": "count the tokens please"}]

    plain = client.chat.completions.create(model="demo", messages=messages, user="alice")
    streamed = list(client.chat.completions.create(model="demo", messages=messages, stream=True))
    assert all(chunk.usage is None for chunk in streamed), "usage was asked for us, not shown"

    async def leave_early() -> None:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            http.stream(
                "POST",
                f"{gateway.base_url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
                json={
                    "model": "demo",
                    "stream": True,
                    "messages": messages,
                    "mock": {"chunks": 30, "chunk_delay": 0.05, "words": 30},
                },
            ) as response,
        ):
            seen = 0
            async for line in response.aiter_lines():
                seen += line.startswith("data:")
                if seen == 5:
                    break

    asyncio.run(leave_early())
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=messages)

    rows = sqlite_rows(gateway.config_path.parent, 3)
    assert len(rows) == 3, rows  # the 404 happened before routing: no model, no event
    first, second, third = rows
    assert first["prompt_tokens"] == plain.usage.prompt_tokens
    assert first["completion_tokens"] == plain.usage.completion_tokens
    assert first["end_user"] == "alice" and first["status"] == 200
    expected = (
        Decimal(plain.usage.prompt_tokens) * 2 + Decimal(plain.usage.completion_tokens) * 8
    ) / 1_000_000
    assert Decimal(first["cost_nanos"]) / 10**9 == expected
    assert first["deployment_id"] == "demo-main" and first["provider"] == "openai"
    assert second["streamed"] and second["completion_tokens"] > 0 and not second["estimated"]
    assert second["ttft_ms"] is not None
    assert third["streamed"] and third["estimated"] and third["status"] == 499
    assert 0 < third["completion_tokens"] < 30


def test_failed_requests_are_recorded_too(gateway_process, mock_upstream) -> None:
    config = usage_config(mock_upstream)
    config["models"].append(
        {"name": "broken", "deployments": [deployment(mock_upstream.base_url(status=500))]}
    )
    gateway = gateway_process(config)
    with pytest.raises(openai.APIStatusError):
        client_for(gateway).chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "x"}]
        )
    (row,) = sqlite_rows(gateway.config_path.parent, 1)
    assert row["status"] == 502 and row["error_code"] == "upstream_error"
    assert row["cost_nanos"] is None


def test_metrics_add_up_across_workers(gateway_process, mock_upstream) -> None:
    gateway = gateway_process(usage_config(mock_upstream), workers=2)
    client = client_for(gateway)
    for index in range(40):
        client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": f"q{index}"}]
        )
    time.sleep(0.5)
    line = 'gateway_requests_total{model="demo",provider="openai",status="200"}'
    for _ in range(6):  # whichever worker answers the scrape, the total is the same
        metrics = httpx.get(f"{gateway.base_url}/metrics").text
        value = next(row.split()[-1] for row in metrics.splitlines() if row.startswith(line))
        assert float(value) == 40


def test_no_event_is_lost_or_doubled_when_postgres_goes_down(
    gateway_process, mock_upstream
) -> None:
    with PostgresServer() as postgres:
        url = postgres.create_database("usage_outage")
        gateway = gateway_process(usage_config(mock_upstream, database={"url": url}))
        client = client_for(gateway)
        sent: list[str] = []
        stop = threading.Event()

        def load() -> None:
            number = 0
            while not stop.is_set():
                raw = client.chat.completions.with_raw_response.create(
                    model="demo", messages=[{"role": "user", "content": f"load {number}"}]
                )
                sent.append(raw.headers["x-request-id"])
                number += 1

        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(1.0)
        # A fast shutdown: the test servers commit asynchronously, so a SIGKILL could take the
        # last acknowledged commits with it, which no production server would do.
        postgres.stop()
        time.sleep(2.0)  # requests keep being served; their usage goes to the spool
        postgres.restart()
        time.sleep(1.0)
        stop.set()
        worker.join(30)

        async def stored() -> list[str]:
            deadline = time.monotonic() + 20
            while True:
                connection = await asyncpg.connect(url)
                try:
                    ids = [
                        r["request_id"]
                        for r in await connection.fetch("SELECT request_id FROM gw_usage_record")
                    ]
                finally:
                    await connection.close()
                if len(ids) >= len(sent) or time.monotonic() > deadline:
                    return ids
                await asyncio.sleep(0.25)

        ids = asyncio.run(stored())
    assert len(sent) > 20
    assert sorted(ids) == sorted(sent), gateway.log()[-3000:]
    assert "spooled" in gateway.log()
