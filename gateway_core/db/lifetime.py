"""``DATABASE_MAX_CONN_LIFETIME`` for PostgreSQL pools.

asyncpg pools close idle connections (``max_inactive_connection_lifetime``) but have no
maximum age. Expiring every connection of the pool once per lifetime gives the same guarantee:
each connection is replaced, when next released, no later than one lifetime after it opened
plus one period. SQLite has a single connection and nothing to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway_core.config import DatabaseSettings
from gateway_core.db import connection, dialect_of

log = logging.getLogger("gateway.db")


async def expire_periodically(settings: DatabaseSettings) -> None:
    """Run until cancelled; does nothing for SQLite."""
    if dialect_of(settings.effective_url()) != "postgres":
        return
    while True:
        await asyncio.sleep(settings.max_conn_lifetime)
        pool = getattr(connection(settings), "_pool", None)  # Tortoise's asyncpg pool
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.expire_connections()
                log.debug("expired the database pool's connections (max lifetime reached)")
