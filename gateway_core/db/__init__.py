"""The database: Tortoise configuration, connection lifecycle, dialect detection.

SQLite is the embedded default (one file, one process); PostgreSQL is for production and for
several instances. Capabilities add their model modules to ``MODEL_MODULES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import BaseDBAsyncClient, Tortoise

from gateway_core.config import DatabaseSettings

MODEL_MODULES = [
    "gateway_core.tenancy.models",
    "gateway_core.usage.models",
    "gateway_core.batches.models",
    "aerich.models",
]
APP = "models"
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def dialect_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme.startswith("postgres"):
        return "postgres"
    if scheme == "sqlite":
        return "sqlite"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgres://")


def tortoise_config(settings: DatabaseSettings) -> dict[str, Any]:
    """Tortoise's configuration, with pool sizes from the ``DATABASE_*`` settings."""
    url = settings.effective_url()
    if dialect_of(url) == "postgres":
        parts = urlsplit(url)
        connection: dict[str, Any] = {
            "engine": "tortoise.backends.asyncpg",
            "credentials": {
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": parts.username or "postgres",
                "password": parts.password or "",
                "database": parts.path.lstrip("/") or "postgres",
                "minsize": settings.min_conns,
                "maxsize": settings.max_conns,
                "max_inactive_connection_lifetime": settings.max_conn_idle_time,
            },
        }
    else:
        path = url.removeprefix("sqlite://")
        connection = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": path,
                "journal_mode": "WAL",
                "foreign_keys": "ON",
            },
        }
    # Named after the dialect: Tortoise caches compiled statements per connection name, so a
    # process that uses both databases (the test suite, tools) must not reuse one name.
    name = dialect_of(url)
    return {
        "connections": {name: connection},
        "apps": {APP: {"models": MODEL_MODULES, "default_connection": name}},
        "use_tz": True,
        "timezone": "UTC",
    }


def migrations_dir(settings: DatabaseSettings) -> Path:
    """The configured migrations folder; a relative one is found from the working directory,
    else from the source checkout (so ``gateway`` works from any directory in development)."""
    configured = Path(settings.migrations_dir)
    if configured.is_absolute() or configured.is_dir():
        return configured
    return REPO_ROOT / configured


async def connect(settings: DatabaseSettings) -> None:
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


def connection(settings: DatabaseSettings) -> BaseDBAsyncClient:
    """The open connection (pool) of the configured database."""
    return Tortoise.get_connection(dialect_of(settings.effective_url()))


async def close() -> None:
    await Tortoise.close_connections()
