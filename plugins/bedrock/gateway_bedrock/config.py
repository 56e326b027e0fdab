"""What a deployer writes under a ``bedrock`` deployment, validated before the first request."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: Keys that choose where SigV4 credentials come from; none of them goes with ``api_key``.
SIGV4_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile")
#: Keys that only mean something when a role is assumed.
ROLE_KEYS = ("role_session_name", "external_id", "sts_endpoint_url")
DEFAULT_SESSION_NAME = "gateway-bedrock"
CohereInputType = Literal["search_document", "search_query", "classification", "clustering"]


class BedrockConfig(BaseModel):
    """One Bedrock model in one region, and how the gateway signs in to call it.

    Without ``api_key`` or explicit keys, credentials come from botocore's standard chain
    (environment, shared files and profiles, SSO, web identity, container and instance
    metadata), optionally exchanged for a role's with ``role_arn``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^\S+$",
        description="Model id, inference-profile id or ARN, as Bedrock names it",
    )
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", description="e.g. us-east-1")
    endpoint_url: str | None = Field(None, pattern=r"^https?://")
    api_key: SecretStr | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    profile: str | None = Field(None, min_length=1)
    role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
    role_session_name: str = Field(DEFAULT_SESSION_NAME, pattern=r"^[\w+=,.@-]{2,64}$")
    external_id: SecretStr | None = None
    sts_endpoint_url: str | None = Field(None, pattern=r"^https?://")
    temperature_above_one: Literal["reject", "clamp"] = "reject"
    additional_model_request_fields: dict[str, Any] = Field(default_factory=dict)
    embedding_format: Literal["titan", "cohere"] | None = None
    cohere_input_type: CohereInputType = "search_document"
    cohere_truncate: Literal["NONE", "START", "END"] | None = None

    @field_validator("endpoint_url", "sts_endpoint_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if "/model" in value.split("://", 1)[1]:
            raise ValueError("give the service root; the adapter adds /model/<id>/... itself")
        return value

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> BedrockConfig:
        given = self.model_fields_set
        if self.api_key is not None:
            clashing = [key for key in (*SIGV4_KEYS, "role_arn", *ROLE_KEYS) if key in given]
            if clashing:
                raise ValueError(
                    f"api_key signs in by itself: remove {', '.join(clashing)} (those are for "
                    "SigV4 signing)"
                )
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("give aws_access_key_id and aws_secret_access_key together")
        if self.aws_session_token is not None and self.aws_access_key_id is None:
            raise ValueError("aws_session_token needs aws_access_key_id and aws_secret_access_key")
        if self.profile is not None and self.aws_access_key_id is not None:
            raise ValueError("give either profile or explicit aws_* keys, not both")
        if self.role_arn is None:
            misplaced = [key for key in ROLE_KEYS if key in given]
            if misplaced:
                raise ValueError(f"{', '.join(misplaced)} only applies with role_arn")
        return self

    @property
    def signs_with_sigv4(self) -> bool:
        return self.api_key is None
