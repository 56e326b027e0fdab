"""The rules of tenancy: permissions, invariants, audit entries, cache invalidation.

Every mutation writes its audit entry in the same transaction as the change, and tells every
gateway process to forget what it cached about the keys it touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from gateway_core.api import Identity
from gateway_core.errors import Conflict, InvalidRequest, NotFound
from gateway_core.shared import SharedState
from gateway_core.tenancy import permissions as perm
from gateway_core.tenancy import repository as repo
from gateway_core.tenancy.key_cache import KeyCache, KeyRecord, broadcast
from gateway_core.tenancy.keys import display_prefix, generate_key
from gateway_core.tenancy.models import AdminUser, ApiKey, AuditEntry, Team
from gateway_core.tenancy.schemas import (
    AuditOut,
    KeyCreate,
    KeyOut,
    KeyUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)


@dataclass(slots=True)
class Actor:
    """Who is changing something, for permission checks and the audit log."""

    identity: Identity
    request_id: str | None = None


@dataclass(slots=True)
class Page:
    data: list[Any]
    has_more: bool

    def to_dict(self) -> dict[str, Any]:
        ids = [str(item["id"]) for item in self.data]
        return {
            "object": "list",
            "data": self.data,
            "has_more": self.has_more,
            "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None,
        }


def team_out(team: Team) -> dict[str, Any]:
    return TeamOut.model_validate(team, from_attributes=True).model_dump(mode="json")


def key_out(key: ApiKey) -> dict[str, Any]:
    data = {
        **{name: getattr(key, name) for name in KeyOut.model_fields if hasattr(key, name)},
        "team_id": key.team_id,  # type: ignore[attr-defined]
        "revoked": key.revoked_at is not None,
    }
    return KeyOut.model_validate(data).model_dump(mode="json")


def user_out(user: AdminUser) -> dict[str, Any]:
    data = {name: getattr(user, name) for name in UserOut.model_fields if hasattr(user, name)}
    data["team_id"] = user.team_id  # type: ignore[attr-defined]
    return UserOut.model_validate(data).model_dump(mode="json")


def audit_out(entry: AuditEntry) -> dict[str, Any]:
    return AuditOut.model_validate(entry, from_attributes=True).model_dump(mode="json")


def _now() -> datetime:
    return datetime.now(UTC)


class TenancyService:
    def __init__(self, key_cache: KeyCache, shared: SharedState) -> None:
        self.key_cache = key_cache
        self.shared = shared

    # -- audit and invalidation -------------------------------------------------------------

    async def _audit(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        team_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        connection: Any,
    ) -> None:
        await AuditEntry.create(
            actor=actor.identity.subject,
            actor_method=actor.identity.method,
            action=action,
            target_type=target_type,
            target_id=target_id,
            team_id=team_id,
            before=before,
            after=after,
            request_id=actor.request_id,
            using_db=connection,
        )

    async def _forget(self, message: str) -> None:
        self.key_cache.handle(message)
        await broadcast(self.shared, message)

    async def _save(
        self,
        actor: Actor,
        action: str,
        record: Model,
        describe: Callable[[Any], dict[str, Any]],
        *,
        team_id: str | None,
        before: dict[str, Any] | None,
        connection: Any,
    ) -> dict[str, Any]:
        """Insert or update ``record`` and write its audit entry in the same transaction."""
        await record.save(using_db=connection)
        after = describe(record)
        target_type = after["object"]
        await self._audit(
            actor,
            action,
            target_type,
            str(record.pk),
            team_id=team_id,
            before=before,
            after=after,
            connection=connection,
        )
        return after

    async def _delete(
        self,
        actor: Actor,
        action: str,
        record: Model,
        before: dict[str, Any],
        *,
        team_id: str | None,
        connection: Any,
    ) -> dict[str, Any]:
        """Delete ``record`` and write its audit entry in the same transaction."""
        await record.delete(using_db=connection)
        target_id, target_type = str(record.pk), before["object"]
        await self._audit(
            actor,
            action,
            target_type,
            target_id,
            team_id=team_id,
            before=before,
            after=None,
            connection=connection,
        )
        return {"id": target_id, "object": target_type, "deleted": True}

    # -- teams ----------------------------------------------------------------------------

    async def create_team(self, actor: Actor, body: TeamCreate) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        if await repo.find_team_by_name(body.name) is not None:
            raise Conflict(f"A team named '{body.name}' already exists.", param="name")
        async with in_transaction() as connection:
            team = Team(**body.model_dump())
            try:
                return await self._save(
                    actor,
                    "team.create",
                    team,
                    team_out,
                    team_id=team.id,
                    before=None,
                    connection=connection,
                )
            except IntegrityError:
                message = f"A team named '{body.name}' already exists."
                raise Conflict(message, param="name") from None

    async def list_teams(self, actor: Actor, limit: int, after: str | None) -> Page:
        scope = perm.team_scope(actor.identity)
        rows, more = await repo.page(repo.teams(scope), limit=limit, after=after)
        return Page([team_out(team) for team in rows], more)

    async def get_team(self, actor: Actor, team_id: str) -> dict[str, Any]:
        perm.require_team_reader(actor.identity, team_id)
        return team_out(await self._team(team_id))

    async def update_team(self, actor: Actor, team_id: str, body: TeamUpdate) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        changes = body.model_dump(exclude_unset=True)
        async with in_transaction() as connection:
            team = await self._team(team_id)
            before = team_out(team)
            team.update_from_dict(changes)
            try:
                after = await self._save(
                    actor,
                    "team.update",
                    team,
                    team_out,
                    team_id=team.id,
                    before=before,
                    connection=connection,
                )
            except IntegrityError:
                raise Conflict("Another team already has that name.", param="name") from None
        await self._forget(f"team:{team_id}")
        return after

    async def delete_team(self, actor: Actor, team_id: str) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        async with in_transaction() as connection:
            team = await self._team(team_id)
            if await repo.team_has_keys(team_id):
                raise Conflict(
                    "This team still has API keys; revoke and delete them, or move them first."
                )
            return await self._delete(
                actor, "team.delete", team, team_out(team), team_id=team_id, connection=connection
            )

    async def _team(self, team_id: str) -> Team:
        team = await repo.find_team(team_id)
        if team is None:
            raise NotFound(f"No team with id '{team_id}'.", code="team_not_found")
        return team

    # -- keys -----------------------------------------------------------------------------

    async def create_key(self, actor: Actor, body: KeyCreate) -> dict[str, Any]:
        team_id = body.team_id
        if team_id is None and actor.identity.role == "team_admin":
            team_id = actor.identity.team_id
        perm.require_key_manager(actor.identity, team_id)
        if team_id is not None:
            await self._team(team_id)
        secret = generate_key()
        key = ApiKey(
            **body.model_dump(exclude={"team_id"}),
            team_id=team_id,
            key_hash=self.key_cache.hash(secret),
            display_prefix=display_prefix(secret),
            created_by=actor.identity.subject,
        )
        async with in_transaction() as connection:
            after = await self._save(
                actor,
                "key.create",
                key,
                key_out,
                team_id=team_id,
                before=None,
                connection=connection,
            )
        return {**after, "key": secret}

    async def list_keys(
        self, actor: Actor, limit: int, after: str | None, team_id: str | None
    ) -> Page:
        scope = perm.team_scope(actor.identity)
        if scope is not None:
            if team_id not in (None, scope):
                raise perm.PermissionDenied("A team_admin may only list its own team's keys.")
            team_id = scope
        rows, more = await repo.page(repo.keys(team_id), limit=limit, after=after)
        return Page([key_out(key) for key in rows], more)

    async def get_key(self, actor: Actor, key_id: str) -> dict[str, Any]:
        key = await self._key(key_id)
        perm.require_team_reader(actor.identity, key.team_id)  # type: ignore[attr-defined]
        return key_out(key)

    async def update_key(self, actor: Actor, key_id: str, body: KeyUpdate) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        return await self._change_key(actor, key_id, "key.update", changes)

    async def revoke_key(self, actor: Actor, key_id: str) -> dict[str, Any]:
        return await self._change_key(actor, key_id, "key.revoke", {"revoked_at": _now()})

    async def rotate_key(self, actor: Actor, key_id: str) -> dict[str, Any]:
        """A new secret for the same key record; the old secret stops working everywhere."""
        secret = generate_key()
        changes = {
            "key_hash": self.key_cache.hash(secret),
            "display_prefix": display_prefix(secret),
        }
        after = await self._change_key(actor, key_id, "key.rotate", changes, allow_revoked=False)
        return {**after, "key": secret}

    async def _change_key(
        self,
        actor: Actor,
        key_id: str,
        action: str,
        changes: dict[str, Any],
        allow_revoked: bool = True,
    ) -> dict[str, Any]:
        async with in_transaction() as connection:
            key = await self._key(key_id)
            team_id = key.team_id  # type: ignore[attr-defined]
            perm.require_key_manager(actor.identity, team_id)
            if not allow_revoked and key.revoked_at is not None:
                raise Conflict("A revoked key cannot be rotated; create a new key instead.")
            old_hash = key.key_hash
            before = key_out(key)
            key.update_from_dict(changes)
            after = await self._save(
                actor, action, key, key_out, team_id=team_id, before=before, connection=connection
            )
        await self._forget(f"key:{old_hash}")
        return after

    async def _key(self, key_id: str) -> ApiKey:
        key = await repo.find_key(key_id)
        if key is None:
            raise NotFound(f"No API key with id '{key_id}'.", code="key_not_found")
        return key

    # -- admin users ----------------------------------------------------------------------

    async def create_user(self, actor: Actor, body: UserCreate) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        email = body.email.lower()
        self._check_team_admin_has_team(body.role, body.team_id)
        if body.team_id is not None:
            await self._team(body.team_id)
        if await repo.find_user_by_email(email) is not None:
            raise Conflict(f"An admin user with email '{email}' already exists.", param="email")
        user = AdminUser(email=email, role=body.role, team_id=body.team_id)
        async with in_transaction() as connection:
            return await self._save(
                actor,
                "user.create",
                user,
                user_out,
                team_id=body.team_id,
                before=None,
                connection=connection,
            )

    async def list_users(self, actor: Actor, limit: int, after: str | None) -> Page:
        scope = perm.team_scope(actor.identity)
        rows, more = await repo.page(repo.users(scope), limit=limit, after=after)
        return Page([user_out(user) for user in rows], more)

    async def get_user(self, actor: Actor, user_id: str) -> dict[str, Any]:
        user = await self._user(user_id)
        perm.require_team_reader(actor.identity, user.team_id)  # type: ignore[attr-defined]
        return user_out(user)

    async def update_user(self, actor: Actor, user_id: str, body: UserUpdate) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        changes = body.model_dump(exclude_unset=True)
        async with in_transaction() as connection:
            user = await self._user(user_id)
            role = changes.get("role", user.role)
            team_id = changes.get("team_id", user.team_id)  # type: ignore[attr-defined]
            self._check_team_admin_has_team(role, team_id)
            if changes.get("team_id") is not None:
                await self._team(changes["team_id"])
            before = user_out(user)
            user.update_from_dict(changes)
            return await self._save(
                actor,
                "user.update",
                user,
                user_out,
                team_id=team_id,
                before=before,
                connection=connection,
            )

    async def delete_user(self, actor: Actor, user_id: str) -> dict[str, Any]:
        perm.require_admin(actor.identity)
        async with in_transaction() as connection:
            user = await self._user(user_id)
            before = user_out(user)
            return await self._delete(
                actor, "user.delete", user, before, team_id=before["team_id"], connection=connection
            )

    async def _user(self, user_id: str) -> AdminUser:
        user = await repo.find_user(user_id)
        if user is None:
            raise NotFound(f"No admin user with id '{user_id}'.", code="user_not_found")
        return user

    @staticmethod
    def _check_team_admin_has_team(role: str, team_id: str | None) -> None:
        if role == "team_admin" and team_id is None:
            raise InvalidRequest("A team_admin needs a 'team_id'.", param="team_id")

    # -- audit ----------------------------------------------------------------------------

    async def list_audit(
        self, actor: Actor, limit: int, after: str | None, target_id: str | None
    ) -> Page:
        scope = perm.team_scope(actor.identity)
        query = repo.audit_entries(team_id=scope, target_id=target_id)
        cursor = after
        if cursor is not None and not cursor.isdigit():
            raise InvalidRequest("'after' must be an audit entry id.", param="after")
        rows, more = await repo.page(query, limit=limit, after=cursor, order_field="-id")
        return Page([audit_out(entry) for entry in rows], more)


async def load_key_record(key_hash: str) -> KeyRecord | None:
    """The cache's loader: one indexed query by hash, joined to the key's team."""
    key = await repo.find_key_by_hash(key_hash)
    if key is None:
        return None
    team: Team | None = key.team  # type: ignore[assignment]
    allowed = key.allowed_models or (team.allowed_models if team is not None else [])
    identity = Identity(
        subject=key.id,
        method="virtual_key",
        team_id=team.id if team is not None else None,
        allowed_models=frozenset(allowed) if allowed else None,
        metadata={
            "key_name": key.name,
            # Read by limit strategies on every request: cached here with the key.
            "limits": {
                "rpm": key.rpm_limit,
                "tpm": key.tpm_limit,
                "parallel": key.parallel_limit,
                "budget_usd": key.budget_usd,
                "team_rpm": team.rpm_limit if team is not None else None,
                "team_tpm": team.tpm_limit if team is not None else None,
                "team_parallel": team.parallel_limit if team is not None else None,
                "team_budget_usd": team.budget_usd if team is not None else None,
                "timezone": team.timezone if team is not None else None,
            },
        },
    )
    return KeyRecord(
        key_id=key.id,
        key_hash=key_hash,
        team_id=identity.team_id,
        identity=identity,
        expires_at=key.expires_at.timestamp() if key.expires_at is not None else None,
        revoked=key.revoked_at is not None,
    )
