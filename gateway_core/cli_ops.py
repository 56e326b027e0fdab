"""Operator commands that work without HTTP: keys, teams, the database.

They use the same services as the admin API, as an ``admin`` identity named after the local
user, so every change is checked and audit-logged exactly like one made over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway_core import db
from gateway_core.api import Identity
from gateway_core.config import load_settings
from gateway_core.db.makemigrations import make_migration
from gateway_core.db.migrations import apply_migrations, migration_status
from gateway_core.errors import GatewayError
from gateway_core.gateway import Gateway
from gateway_core.tenancy.schemas import KeyCreate, TeamCreate
from gateway_core.tenancy.service import Actor, TenancyService

T = TypeVar("T")
ConfigArgument = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


def operator() -> Actor:
    return Actor(Identity(subject=f"cli:{getpass.getuser()}", method="cli", role="admin"))


async def _with_tenancy(
    args: argparse.Namespace, work: Callable[[TenancyService], Awaitable[T]]
) -> T:
    gateway = Gateway(load_settings(args.config))
    await gateway.open_storage()
    try:
        assert gateway.tenancy is not None
        return await work(gateway.tenancy)
    finally:
        await gateway.close_storage()


def _run(args: argparse.Namespace, work: Callable[[TenancyService], Awaitable[Any]]) -> int:
    try:
        asyncio.run(_with_tenancy(args, work))
    except GatewayError as exc:
        print(f"error: {exc.message}")
        return 1
    return 0


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [
        [str(row.get(column) if row.get(column) is not None else "-") for column in columns]
        for row in rows
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(value.ljust(w) for value, w in zip(row, widths, strict=True)))


def _models(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


# -- keys --------------------------------------------------------------------------------------


def cmd_keys_create(args: argparse.Namespace) -> int:
    async def work(service: TenancyService) -> None:
        body = KeyCreate(
            name=args.name,
            team_id=args.team,
            allowed_models=_models(args.models),
            expires_at=datetime.fromisoformat(args.expires) if args.expires else None,
        )
        created = await service.create_key(operator(), body)
        print(f"id:  {created['id']}")
        print(f"key: {created['key']}")
        print("The key is shown only now; store it safely.")

    return _run(args, work)


def cmd_keys_list(args: argparse.Namespace) -> int:
    async def work(service: TenancyService) -> None:
        rows, after = [], None
        while True:
            page = await service.list_keys(operator(), 100, after, args.team)
            rows += page.data
            if not page.has_more:
                break
            after = page.data[-1]["id"]
        _table(rows, ["id", "name", "team_id", "display_prefix", "revoked", "expires_at"])

    return _run(args, work)


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    async def work(service: TenancyService) -> None:
        revoked = await service.revoke_key(operator(), args.key_id)
        print(f"revoked {revoked['id']} ({revoked['display_prefix']}…)")

    return _run(args, work)


# -- teams -------------------------------------------------------------------------------------


def cmd_teams_create(args: argparse.Namespace) -> int:
    async def work(service: TenancyService) -> None:
        team = await service.create_team(
            operator(), TeamCreate(name=args.name, allowed_models=_models(args.models))
        )
        print(f"id: {team['id']}")

    return _run(args, work)


def cmd_teams_list(args: argparse.Namespace) -> int:
    async def work(service: TenancyService) -> None:
        rows, after = [], None
        while True:
            page = await service.list_teams(operator(), 100, after)
            rows += page.data
            if not page.has_more:
                break
            after = page.data[-1]["id"]
        _table(rows, ["id", "name", "allowed_models"])

    return _run(args, work)


# -- database ----------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(args.config).database

    async def work() -> list[str]:
        await db.connect(settings)
        try:
            return await apply_migrations(settings)
        finally:
            await db.close()

    applied = asyncio.run(work())
    print("\n".join(f"applied {name}" for name in applied) or "up to date")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    settings = load_settings(args.config).database

    async def work() -> tuple[list[str], list[str]]:
        await db.connect(settings)
        try:
            return await migration_status(settings)
        finally:
            await db.close()

    applied, pending = asyncio.run(work())
    for name in applied:
        print(f"applied  {name}")
    for name in pending:
        print(f"pending  {name}")
    return 0


def cmd_db_makemigrations(args: argparse.Namespace) -> int:
    written = make_migration(Path(args.location), args.name)
    print(f"wrote {written}" if written else "no changes: the models match the last migration")
    return 0


def add_operator_commands(commands: Any, with_config: ConfigArgument) -> None:
    keys = commands.add_parser("keys", help="virtual API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = with_config(key_commands.add_parser("create", help="create a key (printed once)"))
    create.add_argument("--name", required=True)
    create.add_argument("--team", help="team id")
    create.add_argument("--models", help="comma-separated public model names")
    create.add_argument("--expires", help="ISO 8601 time with zone, e.g. 2030-01-01T00:00:00Z")
    create.set_defaults(handler=cmd_keys_create)
    listing = with_config(key_commands.add_parser("list", help="list keys"))
    listing.add_argument("--team", help="only this team's keys")
    listing.set_defaults(handler=cmd_keys_list)
    revoke = with_config(key_commands.add_parser("revoke", help="revoke a key"))
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=cmd_keys_revoke)

    teams = commands.add_parser("teams", help="teams")
    team_commands = teams.add_subparsers(dest="teams_command", required=True)
    team_create = with_config(team_commands.add_parser("create", help="create a team"))
    team_create.add_argument("--name", required=True)
    team_create.add_argument("--models", help="comma-separated public model names")
    team_create.set_defaults(handler=cmd_teams_create)
    with_config(team_commands.add_parser("list", help="list teams")).set_defaults(
        handler=cmd_teams_list
    )

    database = commands.add_parser("db", help="database migrations")
    db_commands = database.add_subparsers(dest="db_command", required=True)
    with_config(db_commands.add_parser("upgrade", help="apply pending migrations")).set_defaults(
        handler=cmd_db_upgrade
    )
    with_config(db_commands.add_parser("status", help="applied and pending")).set_defaults(
        handler=cmd_db_status
    )
    make = db_commands.add_parser("makemigrations", help="write a migration for model changes")
    make.add_argument("name")
    make.add_argument("--location", default="migrations")
    make.set_defaults(handler=cmd_db_makemigrations)
