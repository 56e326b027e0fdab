"""Who may do what on the admin API. One table, checked by the services.

``admin`` may do everything, ``viewer`` may read everything, ``team_admin`` may read its own
team and manage that team's keys. Sessions of signed-in admins (the admin-auth capability)
arrive as identities with these same roles.
"""

from __future__ import annotations

from gateway_core.api import Identity
from gateway_core.errors import PermissionDenied

READERS = frozenset({"admin", "viewer", "team_admin"})


def role_of(identity: Identity) -> str | None:
    return identity.role


def require_reader(identity: Identity) -> None:
    if role_of(identity) not in READERS:
        raise PermissionDenied("This endpoint needs an admin, viewer or team_admin role.")


def require_admin(identity: Identity) -> None:
    if role_of(identity) != "admin":
        raise PermissionDenied("Only an admin may do this.")


def team_scope(identity: Identity) -> str | None:
    """The team a reader is limited to, or ``None`` for every team."""
    require_reader(identity)
    if role_of(identity) == "team_admin":
        if identity.team_id is None:
            raise PermissionDenied("This team_admin account is not attached to a team.")
        return identity.team_id
    return None


def require_team_reader(identity: Identity, team_id: str | None) -> None:
    scope = team_scope(identity)
    if scope is not None and scope != team_id:
        raise PermissionDenied("A team_admin may only see its own team.")


def require_key_manager(identity: Identity, team_id: str | None) -> None:
    """Admins manage every key; a team_admin only its own team's."""
    role = role_of(identity)
    if role == "admin":
        return
    if role == "team_admin" and identity.team_id is not None and identity.team_id == team_id:
        return
    raise PermissionDenied("You may not manage keys of this team.")
