"""An auth method for tests: ``role:<role>:<team id or ->:<name>`` becomes that identity.

It lets the permission tests act as a viewer or a team admin through real HTTP before admin
sign-in exists; the gateway's permission checks are the real ones.
"""

from __future__ import annotations

from gateway_core import hookimpl
from gateway_core.api import AuthMethod, Identity


class RoleTokenAuth(AuthMethod):
    type_name = "role_token"

    async def authenticate(self, request, token):
        if token is None or not token.startswith("role:"):
            return None
        _, role, team, name = token.split(":", 3)
        return Identity(
            subject=f"test:{name}",
            method="role_token",
            role=role,
            team_id=None if team == "-" else team,
        )


@hookimpl
def gateway_register_auth_methods(auth_methods) -> None:
    auth_methods.add(RoleTokenAuth)
