"""Migrations from empty, on SQLite and on a real PostgreSQL server.

For each dialect: applying every migration to an empty database must give exactly the schema
that the models declare (compared with a database built straight from the models), aerich must
see no pending change, and several instances booting at once must apply each migration once.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from gateway_core import db
from gateway_core.config import DatabaseSettings
from gateway_core.db.migrations import apply_migrations, migration_status
from tests.conftest import ROOT


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request, tmp_path: Path) -> Any:
    """A factory of empty databases of the parametrised dialect."""
    counter = iter(range(1000))

    def make() -> DatabaseSettings:
        number = next(counter)
        if request.param == "sqlite":
            return DatabaseSettings(sqlite_path=str(tmp_path / f"db{number}.sqlite3"))
        server = request.getfixturevalue("postgres_server")
        name = f"mig_{request.node.name.split('[')[0][-20:]}_{number}".lower()
        server.create_database(name)
        return DatabaseSettings(url=server.url(name))

    make.dialect = request.param  # type: ignore[attr-defined]
    return make


async def describe_schema(settings: DatabaseSettings) -> dict[str, Any]:
    """Tables, columns and indexes as the database itself reports them."""
    connection = db.connection(settings)
    if db.dialect_of(settings.effective_url()) == "sqlite":
        _, tables = await connection.execute_query(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
        schema: dict[str, Any] = {}
        for (table,) in [tuple(row) for row in tables]:
            _, columns = await connection.execute_query(f'PRAGMA table_info("{table}")')
            _, indexes = await connection.execute_query(f'PRAGMA index_list("{table}")')
            index_columns = {}
            for index in indexes:
                _, parts = await connection.execute_query(f'PRAGMA index_info("{index["name"]}")')
                index_columns[index["name"]] = (index["unique"], [p["name"] for p in parts])
            schema[table] = {
                "columns": sorted(
                    (c["name"], c["type"], c["notnull"], c["dflt_value"], c["pk"]) for c in columns
                ),
                "indexes": sorted(index_columns.values()),
            }
        return schema
    _, columns = await connection.execute_query(
        "SELECT table_name, column_name, data_type, is_nullable, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public'"
    )
    _, indexes = await connection.execute_query(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    return {
        "columns": sorted(tuple(row.values()) for row in columns),
        "indexes": sorted(
            (row["tablename"], row["indexdef"].split(" ON ", 1)[1]) for row in indexes
        ),
    }


async def migrated_and_declared(make) -> tuple[dict[str, Any], dict[str, Any]]:
    migrated_settings, declared_settings = make(), make()
    await db.connect(migrated_settings)
    try:
        assert await apply_migrations(migrated_settings)
        migrated = await describe_schema(migrated_settings)
    finally:
        await db.close()
    await db.connect(declared_settings)
    try:
        await Tortoise.generate_schemas()
        declared = await describe_schema(declared_settings)
    finally:
        await db.close()
    return migrated, declared


def test_migrating_from_empty_gives_the_declared_schema(fresh_database) -> None:
    migrated, declared = asyncio.run(migrated_and_declared(fresh_database))
    assert migrated == declared
    assert migrated, "some schema was created"


async def pending_changes(settings: DatabaseSettings, scratch: Path) -> str:
    """Run aerich's own diff against the migrated database, in a scratch copy of migrations/."""
    from aerich import Command

    shutil.copytree(ROOT / "migrations", scratch)
    command = Command(db.tortoise_config(settings), app=db.APP, location=str(scratch))
    await command.init()
    return await command.migrate("check", no_input=True)


def test_aerich_sees_no_pending_change(fresh_database, tmp_path: Path) -> None:
    settings = fresh_database()

    async def run() -> tuple[str, list[str]]:
        await db.connect(settings)
        try:
            await apply_migrations(settings)
            _, pending = await migration_status(settings)
            return await pending_changes(settings, tmp_path / "scratch"), pending
        finally:
            await db.close()

    diff, pending = asyncio.run(run())
    assert diff == "", f"the models differ from the last migration: {diff}"
    assert pending == []


UPGRADE_SCRIPT = """
import asyncio, json, sys
from gateway_core import db
from gateway_core.config import DatabaseSettings
from gateway_core.db.migrations import apply_migrations

async def main():
    settings = DatabaseSettings.model_validate_json(sys.argv[1])
    await db.connect(settings)
    try:
        print(json.dumps(await apply_migrations(settings)))
    finally:
        await db.close()

asyncio.run(main())
"""


def test_concurrent_boots_apply_each_migration_once(fresh_database) -> None:
    settings = fresh_database()
    payload = settings.model_dump_json(exclude={"url"})
    if settings.url is not None:
        payload = payload[:-1] + f', "url": "{settings.url.get_secret_value()}"}}'
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_SCRIPT, payload],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [r[1][-800:] for r in results]
    applied = [name for out, _ in results for name in __import__("json").loads(out)]
    expected = sorted(path.name for path in (ROOT / "migrations" / "models").glob("*.py"))
    assert sorted(applied) == expected, "every migration applied exactly once across instances"


def test_makemigrations_writes_both_dialects_and_then_nothing(tmp_path: Path) -> None:
    from gateway_core.db.makemigrations import make_migration

    written = make_migration(tmp_path / "migrations", "init")
    assert written is not None
    text = written.read_text()
    assert '"sqlite": """' in text and '"postgres": """' in text
    assert "BIGSERIAL" in text and "AUTOINCREMENT" in text
    assert make_migration(tmp_path / "migrations", "again") is None
