"""``gateway admin``: admin users and their passwords, without HTTP.

Users are created through the tenancy service (checked and audit-logged like the admin API);
passwords are handed to the enabled password sign-in method, which hashes and audits them.
A password is read from a prompt, or from standard input when that is not a terminal, and never
from the command line, where other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gateway_core.cli_ops import ConfigArgument, operator
from gateway_core.config import load_settings
from gateway_core.errors import GatewayError
from gateway_core.gateway import Gateway
from gateway_core.sessions.setup import AdminAuth
from gateway_core.sessions.signin import PasswordSignIn
from gateway_core.tenancy.schemas import UserCreate
from gateway_core.tenancy.service import TenancyService

ROLES = ("admin", "viewer", "team_admin")
Work = Callable[[TenancyService, AdminAuth], Awaitable[None]]


class PasswordUnavailable(Exception):
    """No password sign-in method is switched on in this configuration."""


def read_password(prompt: str = "Password: ") -> str:
    """From a prompt (asked twice) on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if first != getpass.getpass("Repeat it: "):
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def password_method(admin_auth: AdminAuth, source: str) -> PasswordSignIn:
    method = admin_auth.password_method()
    if method is None:
        raise PasswordUnavailable(
            f"password sign-in is not enabled in {source}: add `auth_local` under plugins: "
            "and keep admin.local_enabled (ADMIN_LOCAL_ENABLED) true"
        )
    return method


def _run(args: argparse.Namespace, work: Work) -> int:
    async def main() -> None:
        settings = load_settings(args.config)
        gateway = Gateway(settings)
        admin_auth = AdminAuth.build(settings, gateway.plugins, gateway.shared)
        await gateway.open_storage()
        try:
            assert gateway.tenancy is not None
            await work(gateway.tenancy, admin_auth)
        finally:
            await gateway.close_storage()

    try:
        asyncio.run(main())
    except (GatewayError, PasswordUnavailable, ValueError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    return 0


async def _user_id(service: TenancyService, email: str) -> str:
    """The id of the user with ``email`` (the list is small: admins, not clients)."""
    after = None
    while True:
        page = await service.list_users(operator(), 100, after)
        for user in page.data:
            if user["email"] == email.strip().lower():
                return str(user["id"])
        if not page.has_more:
            raise ValueError(f"no admin user with email {email!r}")
        after = page.data[-1]["id"]


def cmd_create_user(args: argparse.Namespace) -> int:
    async def work(service: TenancyService, admin_auth: AdminAuth) -> None:
        method, password = None, None
        if args.password:
            method = password_method(admin_auth, args.config or "the configuration")
            password = read_password()
            method.check_password(password)
        body = UserCreate(email=args.email, role=args.role, team_id=args.team)
        user = await service.create_user(operator(), body)
        if method is not None and password is not None:
            await method.set_password(operator(), user["id"], password)
        print(f"id: {user['id']}")
        print(f"email: {user['email']}  role: {user['role']}")

    return _run(args, work)


def cmd_set_password(args: argparse.Namespace) -> int:
    async def work(service: TenancyService, admin_auth: AdminAuth) -> None:
        method = password_method(admin_auth, args.config or "the configuration")
        user_id = await _user_id(service, args.email)
        password = read_password("New password: ")
        await method.set_password(operator(), user_id, password)
        print(f"password set for {user_id}")

    return _run(args, work)


def add_admin_commands(commands: Any, with_config: ConfigArgument) -> None:
    admin = commands.add_parser("admin", help="admin users and their sign-in")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = with_config(admin_commands.add_parser("create-user", help="create an admin user"))
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--team", help="team id (required for team_admin)")
    create.add_argument(
        "--password",
        action="store_true",
        help="also set a password: prompted for, or read from standard input",
    )
    create.set_defaults(handler=cmd_create_user)
    reset = with_config(
        admin_commands.add_parser(
            "set-password", help="set or reset a password (prompted for, or read from stdin)"
        )
    )
    reset.add_argument("--email", required=True)
    reset.set_defaults(handler=cmd_set_password)
