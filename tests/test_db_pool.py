"""DATABASE_MAX_CONN_LIFETIME: PostgreSQL connections are replaced once they are that old."""

from __future__ import annotations

import asyncio

from gateway_core import db
from gateway_core.config import DatabaseSettings
from gateway_core.db.lifetime import expire_periodically


def test_connections_are_replaced_after_their_lifetime(postgres_server) -> None:
    url = postgres_server.create_database("pool_lifetime")
    settings = DatabaseSettings(url=url, min_conns=1, max_conns=1, max_conn_lifetime=0.3)

    async def backend_pid() -> int:
        _, rows = await db.connection(settings).execute_query("SELECT pg_backend_pid() AS pid")
        return rows[0]["pid"]

    async def run() -> tuple[int, int, int]:
        await db.connect(settings)
        try:
            first, again = await backend_pid(), await backend_pid()
            expiring = asyncio.create_task(expire_periodically(settings))
            await asyncio.sleep(0.5)
            later = await backend_pid()
            expiring.cancel()
            return first, again, later
        finally:
            await db.close()

    first, again, later = asyncio.run(run())
    assert first == again, "within its lifetime the connection is reused"
    assert later != first, "after its lifetime the connection was replaced"
