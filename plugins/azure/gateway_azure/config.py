"""What a deployer writes under an ``azure`` deployment, validated before the first request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: The newest generally available data-plane version for the deployment-path URLs.
DEFAULT_API_VERSION = "2024-10-21"
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# The adapter sets these itself from api_key / entra_id.
AUTH_HEADERS = frozenset({"api-key", "authorization"})


class EntraIdConfig(BaseModel):
    """A service principal that signs in with the client-credentials grant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    authority_host: str = Field(ENTRA_AUTHORITY, pattern=r"^https?://")
    scope: str = Field(COGNITIVE_SERVICES_SCOPE, min_length=1)

    @field_validator("authority_host")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class AzureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        pattern=r"^https?://", description="Resource root, e.g. https://contoso.openai.azure.com"
    )
    deployment: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    url_style: Literal["deployments", "v1"] = "deployments"
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$")
    api_key: SecretStr | None = None
    entra_id: EntraIdConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("endpoint")
    @classmethod
    def _resource_root(cls, value: str) -> str:
        value = value.rstrip("/")
        if "/openai" in value.split("://", 1)[1]:
            raise ValueError(
                "give the resource root (https://<resource>.openai.azure.com); the adapter adds "
                "/openai/... itself"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _no_auth_headers(cls, value: dict[str, str]) -> dict[str, str]:
        clashing = sorted(name for name in value if name.lower() in AUTH_HEADERS)
        if clashing:
            raise ValueError(
                f"{', '.join(clashing)} is set by the adapter: use api_key or entra_id instead"
            )
        return value

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> AzureConfig:
        if (self.api_key is None) == (self.entra_id is None):
            raise ValueError("set exactly one of api_key and entra_id")
        if self.url_style == "v1" and "api_version" in self.model_fields_set:
            raise ValueError("api_version applies to url_style 'deployments' only; v1 has none")
        return self
