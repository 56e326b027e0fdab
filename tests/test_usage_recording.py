"""Usage sinks in isolation: failing and hanging sinks, the spool, jsonl files, webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from pathlib import Path

import orjson
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.api import UsageEvent, UsageSink
from gateway_core.testing import free_port
from gateway_core.usage.events import decode_events, encode_events
from gateway_core.usage.recorder import SinkWorker, UsageRecorder
from gateway_core.usage.sinks.jsonl import JsonlConfig, JsonlSink
from gateway_core.usage.sinks.webhook import SIGNATURE_HEADER, WebhookConfig, WebhookSink
from gateway_core.usage.spool import Spool


def event(number: int, **extra) -> UsageEvent:
    return UsageEvent(
        request_id=f"req-{number}",
        timestamp=1_790_000_000 + number,
        public_model="demo",
        status=200,
        prompt_tokens=3,
        completion_tokens=5,
        cost=Decimal("0.000012"),
        **extra,
    )


class Collecting(UsageSink):
    type_name = "collecting"

    def __init__(self) -> None:
        super().__init__(None)
        self.received: list[UsageEvent] = []
        self.failing = False

    async def write(self, events) -> None:
        if self.failing:
            raise ConnectionError("down")
        self.received += events


class Hanging(UsageSink):
    type_name = "hanging"

    async def write(self, events) -> None:
        await asyncio.sleep(3600)


class Raising(UsageSink):
    type_name = "raising"

    async def write(self, events) -> None:
        raise RuntimeError("broken sink")


def worker(name: str, sink: UsageSink, spool_root: Path, **options) -> SinkWorker:
    defaults = {
        "batch_size": 10,
        "flush_interval": 0.02,
        "queue_size": 1000,
        "write_timeout": 0.2,
        "replay_interval": 0.05,
    }
    return SinkWorker(name, sink, Spool(spool_root / name), **{**defaults, **options})


def test_a_raising_or_hanging_sink_does_not_hold_back_the_others(tmp_path: Path) -> None:
    good = Collecting()
    recorder = UsageRecorder(
        [
            worker("good", good, tmp_path),
            worker("raising", Raising(None), tmp_path),
            worker("hanging", Hanging(None), tmp_path),
        ]
    )

    async def run() -> float:
        await recorder.start()
        started = time.monotonic()
        for number in range(100):
            recorder.emit(event(number))  # returns at once whatever the sinks do
        emit_time = time.monotonic() - started
        for _ in range(100):
            if len(good.received) == 100:
                break
            await asyncio.sleep(0.02)
        await recorder.close(grace=0.5)
        return emit_time

    asyncio.run(run())
    assert [e.request_id for e in good.received] == [f"req-{n}" for n in range(100)]
    for name in ("raising", "hanging"):
        spooled = [e for path in Spool(tmp_path / name).pending() for e in Spool.read(path)]
        assert sorted(e.request_id for e in spooled) == sorted(f"req-{n}" for n in range(100))


def test_spooled_events_are_replayed_once_the_sink_recovers(tmp_path: Path) -> None:
    sink = Collecting()
    sink.failing = True
    only = worker("db", sink, tmp_path)
    recorder = UsageRecorder([only])

    async def run() -> None:
        await recorder.start()
        for number in range(30):
            recorder.emit(event(number))
        await asyncio.sleep(0.3)
        assert only.spooled == 30 and not sink.received
        sink.failing = False
        for _ in range(100):
            if len(sink.received) == 30:
                break
            await asyncio.sleep(0.02)
        await recorder.close(grace=1)

    asyncio.run(run())
    assert sorted(e.request_id for e in sink.received) == sorted(f"req-{n}" for n in range(30))
    assert Spool(tmp_path / "db").pending() == []


def test_shutdown_spools_what_a_dead_sink_cannot_take(tmp_path: Path) -> None:
    sink = Collecting()
    sink.failing = True
    recorder = UsageRecorder([worker("db", sink, tmp_path, flush_interval=60)])

    async def run() -> None:
        await recorder.start()
        for number in range(7):
            recorder.emit(event(number))
        await recorder.close(grace=0.5)

    asyncio.run(run())
    spool = Spool(tmp_path / "db")
    assert sorted(e.request_id for p in spool.pending() for e in spool.read(p)) == sorted(
        f"req-{n}" for n in range(7)
    )


def test_a_claimed_file_is_replayed_by_one_worker_only(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([event(1), event(2)])
    (path,) = spool.pending()
    first, second = spool.claim(path), spool.claim(path)
    assert first is not None and second is None
    spool.release(first)
    assert spool.pending() == [path]


@settings(max_examples=30, deadline=None)
@given(
    tokens=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=5),
    cost=st.decimals(min_value=0, max_value=1000, places=9, allow_nan=False),
)
def test_events_survive_the_spool_encoding(tokens, cost) -> None:
    events = [
        UsageEvent(
            request_id=f"r{i}",
            timestamp=1.5 + i,
            public_model="m",
            status=200,
            prompt_tokens=p,
            completion_tokens=c,
            cost=cost,
        )
        for i, (p, c) in enumerate(tokens)
    ]
    assert decode_events(encode_events(events)) == events


def test_jsonl_sink_writes_one_file_per_utc_day(tmp_path: Path) -> None:
    sink = JsonlSink(JsonlConfig(directory=str(tmp_path), keep_days=0))
    day_one, day_two = 1_790_035_200, 1_790_035_200 + 86400  # two UTC midnights
    asyncio.run(
        sink.write(
            [
                event(
                    0,
                ),
                UsageEvent("a", day_one + 5, "m", 200),
                UsageEvent("b", day_two + 5, "m", 200),
            ]
        )
    )
    files = sorted(p.name for p in tmp_path.glob("usage-*.jsonl"))
    assert len(files) >= 2
    lines = [
        json.loads(line) for p in tmp_path.glob("*.jsonl") for line in p.read_text().splitlines()
    ]
    assert {line["request_id"] for line in lines} == {"req-0", "a", "b"}


def test_webhook_signs_retries_and_delivers_alerts() -> None:
    received: list[tuple[dict, str]] = []
    failures = {"left": 2}

    async def hook(request: web.Request) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=503)
        body = await request.read()
        received.append((orjson.loads(body), request.headers[SIGNATURE_HEADER], body))
        return web.Response(status=204)

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        sink = WebhookSink(
            WebhookConfig(
                url=f"http://127.0.0.1:{port}/hook", secret="s" * 32, backoff_initial=0.01
            )
        )
        await sink.start()
        try:
            await sink.write([event(1), event(2)])
            await sink.write_alert({"kind": "budget_soft_limit", "team_id": "team_1"})
        finally:
            await sink.close()
            await runner.cleanup()

    asyncio.run(run())
    (usage, signature, body), (alert, _, _) = received
    assert [e["request_id"] for e in usage["events"]] == ["req-1", "req-2"]
    assert alert == {"type": "alert", "alert": {"kind": "budget_soft_limit", "team_id": "team_1"}}
    timestamp = signature.split(",")[0].removeprefix("t=")
    expected = hmac.new(b"s" * 32, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signature.endswith(f"sha256={expected}")
