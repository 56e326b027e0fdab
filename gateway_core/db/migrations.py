"""Applying aerich migrations at boot, once, even when several instances boot together.

Each migration file carries its SQL for every supported dialect (see ``makemigrations``); the
one for the connected database is run. A lock serialises boots: a PostgreSQL advisory lock
across machines, a file lock beside an SQLite database. The first instance applies what is
pending; the others wait, then find nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from aerich import Command
from tortoise.exceptions import OperationalError

from gateway_core.config import DatabaseSettings
from gateway_core.db import APP, connection, dialect_of, migrations_dir, tortoise_config

log = logging.getLogger("gateway.db")

# An arbitrary, fixed 64-bit key: every gateway instance contends for the same advisory lock.
ADVISORY_LOCK_KEY = 0x6761_7465_7761_7901


@contextlib.asynccontextmanager
async def migration_lock(settings: DatabaseSettings) -> AsyncIterator[None]:
    url = settings.effective_url()
    if dialect_of(url) == "postgres":
        async with connection(settings).acquire_connection() as raw:
            await raw.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
            try:
                yield
            finally:
                await raw.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        return
    lock_path = Path(url.removeprefix("sqlite://") + ".migrate-lock")
    if lock_path.parent and not lock_path.parent.exists():
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _command(settings: DatabaseSettings) -> Command:
    return Command(tortoise_config(settings), app=APP, location=str(migrations_dir(settings)))


async def apply_migrations(settings: DatabaseSettings) -> list[str]:
    """Apply every pending migration; return the names of those applied here.

    Expects Tortoise to be initialised (``gateway_core.db.connect``).
    """
    location = migrations_dir(settings)
    if not (location / APP).is_dir():
        raise FileNotFoundError(
            f"no migrations found in {location / APP}; set DATABASE_MIGRATIONS_DIR to the "
            "folder that holds the gateway's migrations"
        )
    async with migration_lock(settings):
        command = _command(settings)
        await command.init()
        applied = await command.upgrade(run_in_transaction=True)
    for name in applied:
        log.info("applied migration %s", name)
    return applied


async def migration_status(settings: DatabaseSettings) -> tuple[list[str], list[str]]:
    """(applied, pending) migration names."""
    command = _command(settings)
    await command.init()
    try:
        pending = await command.heads()
    except OperationalError:  # not even aerich's own table exists yet
        pending = await command.history()
    applied = [name for name in await command.history() if name not in pending]
    return applied, pending
