"""Tortoise models of tenancy: teams, admin users, virtual API keys, the audit log.

Identifiers are short prefixed strings (``team_…``, ``key_…``) so that they read well in URLs,
logs and audit entries. Keys are stored only as a keyed hash and a display prefix.
"""

from __future__ import annotations

import os

from tortoise import fields
from tortoise.models import Model

ROLES = ("admin", "viewer", "team_admin")


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(9).hex()}"


def _team_id() -> str:
    return new_id("team")


def _user_id() -> str:
    return new_id("usr")


def _key_id() -> str:
    return new_id("key")


class Team(Model):
    id = fields.CharField(max_length=40, primary_key=True, default=_team_id)
    name = fields.CharField(max_length=200, unique=True)
    #: Public model names the team's keys may use; empty means every model.
    allowed_models = fields.JSONField(default=list)
    rpm_limit = fields.IntField(null=True)
    tpm_limit = fields.IntField(null=True)
    parallel_limit = fields.IntField(null=True)
    #: Spend budget of the whole team in USD, per the period its budget rules name.
    budget_usd = fields.DecimalField(max_digits=14, decimal_places=6, null=True)
    #: IANA zone in which the team's budget periods (day, week, month) reset.
    timezone = fields.CharField(max_length=64, null=True)
    metadata = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gw_team"


class AdminUser(Model):
    id = fields.CharField(max_length=40, primary_key=True, default=_user_id)
    email = fields.CharField(max_length=320, unique=True)
    role = fields.CharField(max_length=20)
    team = fields.ForeignKeyField(
        "models.Team", related_name="admins", null=True, on_delete=fields.SET_NULL
    )
    #: Set by password sign-in; null for users who only sign in through an identity provider.
    password_hash = fields.CharField(max_length=255, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gw_admin_user"


class ApiKey(Model):
    id = fields.CharField(max_length=40, primary_key=True, default=_key_id)
    name = fields.CharField(max_length=200)
    team = fields.ForeignKeyField(
        "models.Team", related_name="keys", null=True, on_delete=fields.RESTRICT
    )
    #: HMAC-SHA256 of the key with the server secret, hex; the key itself is never stored.
    key_hash = fields.CharField(max_length=64, unique=True)
    #: The first characters of the key, enough for a person to recognise it.
    display_prefix = fields.CharField(max_length=24)
    allowed_models = fields.JSONField(default=list)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    metadata = fields.JSONField(default=dict)
    rpm_limit = fields.IntField(null=True)
    tpm_limit = fields.IntField(null=True)
    parallel_limit = fields.IntField(null=True)
    budget_usd = fields.DecimalField(max_digits=14, decimal_places=6, null=True)
    created_by = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gw_api_key"


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor = fields.CharField(max_length=80)
    actor_method = fields.CharField(max_length=40)
    action = fields.CharField(max_length=60, db_index=True)
    target_type = fields.CharField(max_length=40)
    target_id = fields.CharField(max_length=80, db_index=True)
    team_id = fields.CharField(max_length=40, null=True, db_index=True)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "gw_audit_entry"


class SystemSecret(Model):
    """Secrets the gateway generates for itself once, shared by every instance via the database."""

    name = fields.CharField(max_length=60, primary_key=True)
    value = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "gw_system_secret"
