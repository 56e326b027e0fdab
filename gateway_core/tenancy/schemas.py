"""Request and response bodies of the tenancy admin API.

These models are the single source of truth for validation and for the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Role = Literal["admin", "viewer", "team_admin"]
Limit = Field(default=None, ge=0, le=10**9)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- teams -------------------------------------------------------------------------------


def _known_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name") from None
    return value


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
Budget = Field(default=None, ge=0, max_digits=14, decimal_places=6)


class TeamCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    allowed_models: list[str] = Field(default_factory=list, max_length=1000)
    rpm_limit: int | None = Limit
    tpm_limit: int | None = Limit
    parallel_limit: int | None = Limit
    budget_usd: Decimal | None = Budget
    timezone: TimeZone | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TeamUpdate(Body):
    """Only the fields sent change; limits may be set to null to clear them."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    allowed_models: list[str] = Field(default=None, max_length=1000)  # type: ignore[assignment]
    rpm_limit: int | None = Limit
    tpm_limit: int | None = Limit
    parallel_limit: int | None = Limit
    budget_usd: Decimal | None = Budget
    timezone: TimeZone | None = None
    metadata: dict[str, Any] = None  # type: ignore[assignment]


class TeamOut(BaseModel):
    object: Literal["team"] = "team"
    id: str
    name: str
    allowed_models: list[str]
    rpm_limit: int | None
    tpm_limit: int | None
    parallel_limit: int | None
    budget_usd: Decimal | None
    timezone: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# -- keys --------------------------------------------------------------------------------


class KeyCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    team_id: str | None = Field(default=None, max_length=40)
    allowed_models: list[str] = Field(default_factory=list, max_length=1000)
    expires_at: AwareDatetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    rpm_limit: int | None = Limit
    tpm_limit: int | None = Limit
    parallel_limit: int | None = Limit
    budget_usd: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=6)


class KeyUpdate(Body):
    """Only the fields sent change; expiry and limits may be set to null to clear them."""

    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    allowed_models: list[str] = Field(default=None, max_length=1000)  # type: ignore[assignment]
    expires_at: AwareDatetime | None = None
    metadata: dict[str, Any] = None  # type: ignore[assignment]
    rpm_limit: int | None = Limit
    tpm_limit: int | None = Limit
    parallel_limit: int | None = Limit
    budget_usd: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=6)


class KeyOut(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str
    team_id: str | None
    display_prefix: str
    allowed_models: list[str]
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    metadata: dict[str, Any]
    rpm_limit: int | None
    tpm_limit: int | None
    parallel_limit: int | None
    budget_usd: Decimal | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class KeyCreated(KeyOut):
    """Returned once, at creation or rotation: the only time the key itself is shown."""

    key: str


# -- admin users -------------------------------------------------------------------------


class UserCreate(Body):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role
    team_id: str | None = Field(default=None, max_length=40)


class UserUpdate(Body):
    """Only the fields sent change; ``team_id`` may be set to null to detach the user."""

    role: Role = None  # type: ignore[assignment]
    team_id: str | None = Field(default=None, max_length=40)
    is_active: bool = None  # type: ignore[assignment]


class UserOut(BaseModel):
    object: Literal["admin_user"] = "admin_user"
    id: str
    email: str
    role: Role
    team_id: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


# -- audit -------------------------------------------------------------------------------


class AuditOut(BaseModel):
    object: Literal["audit_entry"] = "audit_entry"
    id: int
    at: datetime
    actor: str
    actor_method: str
    action: str
    target_type: str
    target_id: str
    team_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class Deleted(BaseModel):
    id: str
    object: str
    deleted: Literal[True] = True
