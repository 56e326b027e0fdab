"""Queries of the tenancy tables. No rules here: services decide, these functions fetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from gateway_core.tenancy.models import AdminUser, ApiKey, AuditEntry, SystemSecret, Team

M = TypeVar("M", bound=Model)
ID_LENGTH = 40


def _plausible(identifier: str) -> bool:
    """Ids longer than the column cannot exist; asking the database would only fail."""
    return 0 < len(identifier) <= ID_LENGTH


async def page(
    query: QuerySet[M], *, limit: int, after: str | None, order_field: str = "id"
) -> tuple[list[M], bool]:
    """Cursor pagination by a unique, ordered field (``-field`` for newest first)."""
    if after is not None:
        field = order_field.lstrip("-")
        operator = "lt" if order_field.startswith("-") else "gt"
        query = query.filter(**{f"{field}__{operator}": after})
    rows = await query.order_by(order_field).limit(limit + 1)
    return rows[:limit], len(rows) > limit


# -- teams -------------------------------------------------------------------------------


async def find_team(team_id: str) -> Team | None:
    return await Team.get_or_none(id=team_id) if _plausible(team_id) else None


async def find_team_by_name(name: str) -> Team | None:
    return await Team.get_or_none(name=name)


def teams(team_id: str | None = None) -> QuerySet[Team]:
    query = Team.all()
    return query.filter(id=team_id) if team_id is not None else query


async def team_has_keys(team_id: str) -> bool:
    return await ApiKey.filter(team_id=team_id).exists()


# -- keys --------------------------------------------------------------------------------


async def find_key(key_id: str) -> ApiKey | None:
    return await ApiKey.get_or_none(id=key_id) if _plausible(key_id) else None


async def find_key_by_hash(key_hash: str) -> ApiKey | None:
    return await ApiKey.get_or_none(key_hash=key_hash).select_related("team")


def keys(team_id: str | None = None) -> QuerySet[ApiKey]:
    query = ApiKey.all()
    return query.filter(team_id=team_id) if team_id is not None else query


async def key_hashes_of_team(team_id: str) -> list[str]:
    return await ApiKey.filter(team_id=team_id).values_list("key_hash", flat=True)


# -- admin users -------------------------------------------------------------------------


async def find_user(user_id: str) -> AdminUser | None:
    return await AdminUser.get_or_none(id=user_id) if _plausible(user_id) else None


async def find_user_by_email(email: str) -> AdminUser | None:
    return await AdminUser.get_or_none(email=email)


def users(team_id: str | None = None) -> QuerySet[AdminUser]:
    query = AdminUser.all()
    return query.filter(team_id=team_id) if team_id is not None else query


# -- audit -------------------------------------------------------------------------------


async def add_audit(**fields: Any) -> AuditEntry:
    return await AuditEntry.create(**fields)


def audit_entries(
    team_id: str | None = None, target_id: str | None = None, actions: Sequence[str] = ()
) -> QuerySet[AuditEntry]:
    query = AuditEntry.all()
    if team_id is not None:
        query = query.filter(team_id=team_id)
    if target_id is not None:
        query = query.filter(target_id=target_id)
    if actions:
        query = query.filter(action__in=list(actions))
    return query


# -- system secrets ----------------------------------------------------------------------


async def get_or_create_secret(name: str, value: str) -> str:
    """The stored secret ``name``; ``value`` is stored first if there is none yet."""
    secret, _ = await SystemSecret.get_or_create(name=name, defaults={"value": value})
    return secret.value
