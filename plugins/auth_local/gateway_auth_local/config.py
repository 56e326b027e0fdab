"""The plugin's own section, ``plugins: {auth_local: {...}}``: hashing cost and throttling.

Whether password sign-in is on at all is the core's ``admin.local_enabled``
(``ADMIN_LOCAL_ENABLED``); everything here has a safe default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway_core.config import Duration


class Argon2Parameters(BaseModel):
    """Argon2id cost. The defaults are RFC 9106's second recommended profile (64 MiB, t=3);
    raising them makes stored hashes be upgraded at each user's next sign-in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_cost: int = Field(3, ge=1, le=50)
    memory_cost: int = Field(65536, ge=8, le=4 * 1024 * 1024, description="KiB")
    parallelism: int = Field(4, ge=1, le=64)


class LocalSignInConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    argon2: Argon2Parameters = Field(default_factory=Argon2Parameters)
    min_password_length: int = Field(12, ge=8, le=128)
    max_failures_per_account: int = Field(5, ge=1)
    max_failures_per_ip: int = Field(50, ge=1)
    failure_window: Duration = 900.0
