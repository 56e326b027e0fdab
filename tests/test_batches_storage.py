"""Leases, results and finalisation against real databases (SQLite and PostgreSQL).

The invariants the crash-safety of batches rests on: two workers never hold the same line; only
the lease holder can record a line's result; and whatever happened to the workers, the output
and error files together hold each input line exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import Tortoise

from gateway_core import db
from gateway_core.batches import lifecycle
from gateway_core.batches import repository as repo
from gateway_core.batches.models import Batch, BatchFile, BatchLine
from gateway_core.batches.storage import LocalDirectoryStorage, read_all
from gateway_core.batches.worker import BatchWorker
from gateway_core.config import DatabaseSettings, Settings


class Database:
    """One connected database and an event loop to use it from synchronous tests."""

    def __init__(self, settings: DatabaseSettings, files: Path) -> None:
        self.settings = settings
        self.dialect = db.dialect_of(settings.effective_url())
        self.loop = asyncio.new_event_loop()
        self.storage = LocalDirectoryStorage(files)
        self.run(self._open())

    async def _open(self) -> None:
        await db.connect(self.settings)
        await Tortoise.generate_schemas()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(db.close())
        self.loop.close()

    def worker(self, lease: float = 60.0) -> BatchWorker:
        settings = Settings(database=self.settings, batches={"lease_duration": lease})
        return BatchWorker(SimpleNamespace(settings=settings), self.storage)  # type: ignore[arg-type]

    async def claim(self, owner: str, limit: int, now: float | None = None) -> list[BatchLine]:
        return await repo.claim_lines(
            db.connection(self.settings), self.dialect, owner, now or time.time(), 60.0, limit
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request, tmp_path_factory) -> Iterator[Database]:
    directory = tmp_path_factory.mktemp(f"batches-{request.param}")
    if request.param == "sqlite":
        settings = DatabaseSettings(sqlite_path=str(directory / "db.sqlite3"))
    else:
        server = request.getfixturevalue("postgres_server")
        server.create_database("batches_storage")
        settings = DatabaseSettings(url=server.url("batches_storage"))
    database = Database(settings, directory / "files")
    yield database
    database.close()


async def new_batch(custom_ids: list[str], **fields: Any) -> Batch:
    now = int(time.time())
    batch = await Batch.create(
        scope="subject:test",
        subject="test",
        endpoint="/v1/chat/completions",
        input_file_id="file-x",
        completion_window="24h",
        status=lifecycle.IN_PROGRESS,
        total=len(custom_ids),
        created_at=now,
        in_progress_at=now,
        expires_at=now + 86_400,
        **fields,
    )
    await BatchLine.bulk_create(
        [
            BatchLine(batch_id=batch.id, line_no=n, custom_id=c, body="{}")
            for n, c in enumerate(custom_ids, 1)
        ]
    )
    return batch


async def result(line: BatchLine, outcome: str) -> str:
    body = {"ok": True} if outcome == lifecycle.OK else {"error": {"message": "no"}}
    status = 200 if outcome == lifecycle.OK else 400
    return json.dumps(lifecycle.response_line("id", line.custom_id, "r", status, body))


async def contents(database: Database, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    data = await read_all(database.storage, file_id)
    return [json.loads(line) for line in data.decode().splitlines()]


def test_concurrent_claims_never_share_a_line(database: Database) -> None:
    async def scenario() -> None:
        batch = await new_batch([f"c{n}" for n in range(60)])
        claims = await asyncio.gather(*(database.claim(f"w{n}", 7) for n in range(10)))
        ids = [line.id for claim in claims for line in claim]
        assert len(ids) == len(set(ids)) == 60
        assert not await database.claim("late", 10)  # all leased
        await Batch.filter(id=batch.id).update(status=lifecycle.CANCELLED)

    database.run(scenario())


def test_only_the_lease_holder_records_and_an_expired_lease_is_taken_over(
    database: Database,
) -> None:
    async def scenario() -> None:
        batch = await new_batch(["only"])
        (line,) = await database.claim("first", 1)
        assert not await database.claim("second", 1)
        (again,) = await database.claim("second", 1, now=time.time() + 61)  # lease ran out
        assert again.id == line.id and again.attempts == 2
        assert not await repo.record_result(line, "first", "ok", "{}")
        assert await repo.record_result(again, "second", "ok", "{}")
        assert not await repo.record_result(again, "second", "ok", "{}")
        assert await repo.counts(batch.id) == {"ok": 1}

    database.run(scenario())


FATES = st.sampled_from(["ok", "error", "crashed", "untouched"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fates=st.lists(FATES, min_size=1, max_size=25),
    ending=st.sampled_from(["complete", "expire", "cancel"]),
)
def test_output_plus_error_lines_equal_the_input_lines(
    database: Database, fates: list[str], ending: str
) -> None:
    async def scenario() -> None:
        custom_ids = [f"id-{n}" for n in range(len(fates))]
        batch = await new_batch(custom_ids)
        lines = await BatchLine.filter(batch_id=batch.id).order_by("line_no")
        for line, fate in zip(lines, fates, strict=True):
            if fate == "untouched":
                continue
            await BatchLine.filter(id=line.id).update(lease_owner="dead", lease_until=1e12)
            if fate != "crashed":
                await repo.record_result(line, "dead", fate, await result(line, fate))
        worker = database.worker()
        if ending == "expire":
            await Batch.filter(id=batch.id).update(expires_at=1)
        elif ending == "cancel":
            await Batch.filter(id=batch.id).update(
                status=lifecycle.CANCELLING, cancelling_at=int(time.time())
            )
        elif set(fates) & {"crashed", "untouched"}:
            await BatchLine.filter(batch_id=batch.id, state="pending").update(lease_until=None)
            for line in await database.claim("finisher", 100):
                await repo.record_result(line, "finisher", "ok", await result(line, "ok"))
        await worker.tick_batches()
        await worker.tick_batches()  # a second pass must change nothing
        final = await Batch.get(id=batch.id)
        expected = {"complete": "completed", "expire": "expired", "cancel": "cancelled"}
        assert final.status == expected[ending]
        output = await contents(database, final.output_file_id)
        errors = await contents(database, final.error_file_id)
        assert sorted(r["custom_id"] for r in output + errors) == sorted(custom_ids)
        assert all(r["response"]["status_code"] == 200 for r in output)
        assert {r["custom_id"] for r in output} >= {
            c for c, fate in zip(custom_ids, fates, strict=True) if fate == "ok"
        }
        files = [i for i in (final.output_file_id, final.error_file_id) if i is not None]
        await BatchFile.filter(id__in=files).delete()

    database.run(scenario())
