"""Tenancy endpoints of the admin API: parse, call the service, respond."""

from __future__ import annotations

from typing import Any

from sanic import Request

from gateway_core.admin.spec import AdminAPI, QueryParam
from gateway_core.errors import ServiceUnavailable
from gateway_core.tenancy.schemas import (
    AuditOut,
    Deleted,
    KeyCreate,
    KeyCreated,
    KeyOut,
    KeyUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)
from gateway_core.tenancy.service import Actor, TenancyService


def _service(request: Request) -> TenancyService:
    service = request.app.ctx.gateway.tenancy
    if service is None:
        raise ServiceUnavailable("The database is not ready yet.")
    return service


def register(api: AdminAPI) -> None:
    """Add the tenancy operations to the admin API."""

    @api.operation(
        "POST",
        "/teams",
        summary="Create a team",
        tag="teams",
        body=TeamCreate,
        response=TeamOut,
        status=201,
    )
    async def create_team(actor: Actor, *, request: Request, body: TeamCreate) -> Any:
        return await _service(request).create_team(actor, body)

    @api.operation(
        "GET", "/teams", summary="List teams", tag="teams", response=TeamOut, paginated=True
    )
    async def list_teams(actor: Actor, *, request: Request, limit: int, after: str | None) -> Any:
        return (await _service(request).list_teams(actor, limit, after)).to_dict()

    @api.operation("GET", "/teams/<team_id>", summary="Get a team", tag="teams", response=TeamOut)
    async def get_team(actor: Actor, *, request: Request, team_id: str) -> Any:
        return await _service(request).get_team(actor, team_id)

    @api.operation(
        "PATCH",
        "/teams/<team_id>",
        summary="Update a team",
        tag="teams",
        body=TeamUpdate,
        response=TeamOut,
    )
    async def update_team(actor: Actor, *, request: Request, team_id: str, body: TeamUpdate) -> Any:
        return await _service(request).update_team(actor, team_id, body)

    @api.operation(
        "DELETE",
        "/teams/<team_id>",
        summary="Delete a team without keys",
        tag="teams",
        response=Deleted,
    )
    async def delete_team(actor: Actor, *, request: Request, team_id: str) -> Any:
        return await _service(request).delete_team(actor, team_id)

    @api.operation(
        "POST",
        "/keys",
        summary="Create a virtual API key (shown once)",
        tag="keys",
        body=KeyCreate,
        response=KeyCreated,
        status=201,
    )
    async def create_key(actor: Actor, *, request: Request, body: KeyCreate) -> Any:
        return await _service(request).create_key(actor, body)

    @api.operation(
        "GET",
        "/keys",
        summary="List virtual API keys",
        tag="keys",
        response=KeyOut,
        paginated=True,
        query=(QueryParam("team_id", "only this team's keys"),),
    )
    async def list_keys(actor: Actor, *, request: Request, limit: int, after: str | None) -> Any:
        team_id = request.args.get("team_id")
        return (await _service(request).list_keys(actor, limit, after, team_id)).to_dict()

    @api.operation(
        "GET", "/keys/<key_id>", summary="Get a virtual API key", tag="keys", response=KeyOut
    )
    async def get_key(actor: Actor, *, request: Request, key_id: str) -> Any:
        return await _service(request).get_key(actor, key_id)

    @api.operation(
        "PATCH",
        "/keys/<key_id>",
        summary="Update a virtual API key",
        tag="keys",
        body=KeyUpdate,
        response=KeyOut,
    )
    async def update_key(actor: Actor, *, request: Request, key_id: str, body: KeyUpdate) -> Any:
        return await _service(request).update_key(actor, key_id, body)

    @api.operation(
        "POST",
        "/keys/<key_id>/revoke",
        summary="Revoke a virtual API key",
        tag="keys",
        response=KeyOut,
    )
    async def revoke_key(actor: Actor, *, request: Request, key_id: str) -> Any:
        return await _service(request).revoke_key(actor, key_id)

    @api.operation(
        "POST",
        "/keys/<key_id>/rotate",
        summary="Replace a key's secret (shown once)",
        tag="keys",
        response=KeyCreated,
    )
    async def rotate_key(actor: Actor, *, request: Request, key_id: str) -> Any:
        return await _service(request).rotate_key(actor, key_id)

    @api.operation(
        "POST",
        "/users",
        summary="Create an admin user",
        tag="users",
        body=UserCreate,
        response=UserOut,
        status=201,
    )
    async def create_user(actor: Actor, *, request: Request, body: UserCreate) -> Any:
        return await _service(request).create_user(actor, body)

    @api.operation(
        "GET", "/users", summary="List admin users", tag="users", response=UserOut, paginated=True
    )
    async def list_users(actor: Actor, *, request: Request, limit: int, after: str | None) -> Any:
        return (await _service(request).list_users(actor, limit, after)).to_dict()

    @api.operation(
        "GET", "/users/<user_id>", summary="Get an admin user", tag="users", response=UserOut
    )
    async def get_user(actor: Actor, *, request: Request, user_id: str) -> Any:
        return await _service(request).get_user(actor, user_id)

    @api.operation(
        "PATCH",
        "/users/<user_id>",
        summary="Update an admin user",
        tag="users",
        body=UserUpdate,
        response=UserOut,
    )
    async def update_user(actor: Actor, *, request: Request, user_id: str, body: UserUpdate) -> Any:
        return await _service(request).update_user(actor, user_id, body)

    @api.operation(
        "DELETE", "/users/<user_id>", summary="Delete an admin user", tag="users", response=Deleted
    )
    async def delete_user(actor: Actor, *, request: Request, user_id: str) -> Any:
        return await _service(request).delete_user(actor, user_id)

    @api.operation(
        "GET",
        "/audit",
        summary="Audit log, newest first",
        tag="audit",
        response=AuditOut,
        paginated=True,
        query=(QueryParam("target_id", "only entries about this object"),),
    )
    async def list_audit(actor: Actor, *, request: Request, limit: int, after: str | None) -> Any:
        target = request.args.get("target_id")
        return (await _service(request).list_audit(actor, limit, after, target)).to_dict()
