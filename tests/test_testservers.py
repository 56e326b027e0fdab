"""The real Redis and PostgreSQL servers that tests start on loopback (gateway_core.testservers)."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from gateway_core.testservers import (
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    postgres_bin_dir,
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def query(url: str, sql: str) -> Any:
    async def run() -> Any:
        connection = await asyncpg.connect(url, timeout=5)
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    return asyncio.run(run())


# Redis


def test_redis_answers_ping_and_round_trips_a_value(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.ping()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()


def test_redis_kill_is_an_outage_and_restart_recovers_on_the_same_port(
    redis_server: RedisServer,
) -> None:
    port, url = redis_server.port, redis_server.url
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.set("survives", "no")
        redis_server.kill()
        assert not redis_server.ping()
        with pytest.raises(redis.ConnectionError):
            client.ping()

        redis_server.restart()
        assert (redis_server.port, redis_server.url) == (port, url)
        assert client.ping()  # the client reconnects to the same URL
        assert client.get("survives") is None  # nothing is persisted
    finally:
        client.close()


def test_redis_close_stops_the_server_and_deletes_its_directory() -> None:
    with RedisServer() as server:
        process, directory = server.process, server.directory
        assert process is not None and directory.is_dir()
    assert process.poll() is not None
    assert not server.ping()
    assert not directory.exists()
    server.close()  # twice is harmless


def test_a_missing_redis_binary_fails_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerUnavailable, match=r"redis-server.*\.ci/system-packages"):
        RedisServer()


# PostgreSQL


def test_postgres_accepts_a_connection_and_a_query(postgres_server: PostgresServer) -> None:
    url = postgres_server.url()
    assert url == f"postgres://postgres@127.0.0.1:{postgres_server.port}/postgres"
    assert query(url, "SELECT 1") == 1
    assert query(url, "SELECT current_user") == "postgres"
    assert query(url, "SHOW fsync") == "off"
    assert query(url, "SHOW server_encoding") == "UTF8"


def test_postgres_runs_as_the_postgres_user_when_we_are_root(
    postgres_server: PostgresServer,
) -> None:
    owner = postgres_server.data_dir.stat().st_uid
    if os.geteuid() == 0:
        assert owner == pwd.getpwnam("postgres").pw_uid
    else:
        assert owner == os.geteuid()


def test_postgres_create_and_drop_database(postgres_server: PostgresServer) -> None:
    name = "gateway test-db"  # needs quoting in SQL and percent-encoding in the URL
    url = postgres_server.create_database(name)
    assert url == postgres_server.url(name)
    assert query(url, "SELECT current_database()") == name

    postgres_server.drop_database(name)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        query(url, "SELECT 1")
    postgres_server.drop_database(name)  # dropping a missing database is harmless


def test_postgres_kill_is_an_outage_and_restart_recovers_the_data(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("outage")
    query(url, "CREATE TABLE kept AS SELECT 42 AS answer")
    query(url, "CHECKPOINT")  # synchronous_commit is off; see PostgresServer.kill
    port = postgres_server.port

    postgres_server.kill()
    assert not postgres_server.running
    with pytest.raises(OSError):
        query(url, "SELECT 1")

    postgres_server.restart()
    assert postgres_server.port == port
    assert query(url, "SELECT answer FROM kept") == 42


def test_postgres_close_stops_the_server_and_deletes_its_directory() -> None:
    with PostgresServer() as server:
        directory = server.directory
        assert query(server.url(), "SELECT 1") == 1
    assert not server.running
    assert not directory.exists()
    with pytest.raises(OSError):
        query(server.url(), "SELECT 1")


def test_missing_postgres_binaries_fail_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerUnavailable, match=r"'postgresql'.*\.ci/system-packages"):
        postgres_bin_dir(root=tmp_path)
    with pytest.raises(ServerUnavailable, match="postgresql"):
        PostgresServer(bin_dir=tmp_path)
