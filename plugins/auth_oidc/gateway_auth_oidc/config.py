"""The plugin's own section, ``plugins: {auth_oidc: {...}}``: what a first sign-in provisions.

The connection to the identity provider (issuer, client, scopes, allowed domains) is the core's
``admin.oidc_*`` settings, because the original design's ``ADMIN_OIDC_*`` variables set it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway_core.config import Duration

ProvisionedRole = Literal["admin", "viewer"]


class OidcSignInConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Role of a user created at their first sign-in, unless ``roles`` names them.
    default_role: ProvisionedRole = "viewer"
    #: Email -> role for first sign-ins; later changes go through the admin API.
    roles: dict[str, ProvisionedRole] = Field(default_factory=dict)
    #: How long a started sign-in may take at the provider.
    state_ttl: Duration = 600.0
    #: Allowed clock difference with the provider when checking the ID token's times.
    leeway: Duration = 60.0
    #: How long the discovery document and signing keys are trusted before being read again.
    metadata_ttl: Duration = 3600.0
    http_timeout: Duration = 10.0

    @field_validator("roles")
    @classmethod
    def _lower_case_emails(cls, roles: dict[str, ProvisionedRole]) -> dict[str, ProvisionedRole]:
        return {email.strip().lower(): role for email, role in roles.items()}
