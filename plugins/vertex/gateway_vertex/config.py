"""What a deployer writes under a ``vertex`` deployment, validated before the first request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway_vertex.auth.keys import parse_credentials_file, service_account_key

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
URL = r"^https?://[^\s]+$"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class ServiceAccountCredentials(BaseModel):
    """Sign in as a service account with its JSON key, from a file or inline."""

    model_config = _STRICT

    type: Literal["service_account"]
    key_file: Path | None = None
    key: SecretStr | None = None
    token_url: str | None = Field(None, pattern=URL)
    scopes: tuple[str, ...] = Field((CLOUD_PLATFORM_SCOPE,), min_length=1)

    @model_validator(mode="after")
    def _one_key(self) -> ServiceAccountCredentials:
        if (self.key_file is None) == (self.key is None):
            raise ValueError("set exactly one of key_file and key")
        if self.key is not None:
            try:
                service_account_key(parse_credentials_file(self.key.get_secret_value()))
            except ValueError as problem:
                raise ValueError(f"key {problem}") from None
        return self


class ApplicationDefaultCredentials(BaseModel):
    """Google's application default credentials, found where Google's own libraries look."""

    model_config = _STRICT

    type: Literal["application_default"] = "application_default"
    token_url: str | None = Field(None, pattern=URL)
    metadata_url: str | None = Field(None, pattern=URL)
    scopes: tuple[str, ...] = Field((CLOUD_PLATFORM_SCOPE,), min_length=1)

    @field_validator("metadata_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value


Credentials = Annotated[
    ServiceAccountCredentials | ApplicationDefaultCredentials, Field(discriminator="type")
]


class SafetySetting(BaseModel):
    """One of Gemini's harm categories and the threshold at which it blocks."""

    model_config = _STRICT

    category: str = Field(pattern=r"^HARM_CATEGORY_[A-Z_]+$")
    threshold: str = Field(pattern=r"^[A-Z_]+$")
    method: Literal["SEVERITY", "PROBABILITY"] | None = None


class VertexConfig(BaseModel):
    model_config = _STRICT

    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
    project: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,127}$")
    location: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    endpoint: str | None = Field(None, pattern=URL)
    api_version: Literal["v1", "v1beta1"] = "v1"
    credentials: Credentials = Field(default_factory=ApplicationDefaultCredentials)
    headers: dict[str, str] = Field(default_factory=dict)
    safety_settings: tuple[SafetySetting, ...] = ()
    schemas: Literal["openapi", "json_schema"] = "openapi"
    skip_missing_thought_signatures: bool = False
    default_retry_after: float = Field(2.0, gt=0, le=600)
    embedding_task_type: str | None = Field(None, pattern=r"^[A-Z_]+$")
    embedding_auto_truncate: bool | None = None
    embedding_batch_size: int | None = Field(None, ge=1, le=250)

    @field_validator("endpoint")
    @classmethod
    def _api_root(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if "/projects/" in value or value.endswith(("/v1", "/v1beta1")):
            raise ValueError(
                "give the API root (https://<location>-aiplatform.googleapis.com); the adapter "
                "adds /v1/projects/... itself"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _no_auth_header(cls, value: dict[str, str]) -> dict[str, str]:
        clashing = sorted(name for name in value if name.lower() == "authorization")
        if clashing:
            raise ValueError(f"{clashing[0]} is set by the adapter: configure credentials instead")
        return value

    @property
    def batch_size(self) -> int:
        """Instances per ``predict`` call: Gemini embedding models take one at a time."""
        if self.embedding_batch_size is not None:
            return self.embedding_batch_size
        return 1 if self.model.startswith("gemini-embedding") else 250
