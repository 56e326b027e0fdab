"""Google credential files (service-account keys and gcloud user credentials), read and checked.

A key's JSON holds the private key, so nothing here ever repeats a value in an error: messages
name the field that is missing or wrong and stop there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
SERVICE_ACCOUNT = "service_account"
AUTHORIZED_USER = "authorized_user"


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """The fields of a service-account key file that signing in needs."""

    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str | None = None
    token_uri: str = GOOGLE_TOKEN_URL


@dataclass(frozen=True, slots=True)
class AuthorizedUser:
    """``gcloud auth application-default login`` credentials: a user's refresh token."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_uri: str = GOOGLE_TOKEN_URL


def parse_credentials_file(text: str | bytes) -> dict[str, Any]:
    """The JSON object of a credentials file; ``ValueError`` (naming no value) otherwise."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("is not JSON (expected a Google credentials file)") from None
    if not isinstance(parsed, dict):
        raise ValueError("is not a JSON object (expected a Google credentials file)")
    return parsed


def service_account_key(info: dict[str, Any]) -> ServiceAccountKey:
    """Check a parsed key file and keep what signing needs."""
    if info.get("type") != SERVICE_ACCOUNT:
        raise ValueError("is not a service-account key (its 'type' is not 'service_account')")
    email = _required_text(info, "client_email")
    private_key = _required_text(info, "private_key")
    if "PRIVATE KEY-----" not in private_key:
        raise ValueError("has a 'private_key' that is not a PEM private key")
    return ServiceAccountKey(
        client_email=email,
        private_key=private_key,
        private_key_id=_optional_text(info, "private_key_id"),
        token_uri=_optional_text(info, "token_uri") or GOOGLE_TOKEN_URL,
    )


def authorized_user(info: dict[str, Any]) -> AuthorizedUser:
    return AuthorizedUser(
        client_id=_required_text(info, "client_id"),
        client_secret=_required_text(info, "client_secret"),
        refresh_token=_required_text(info, "refresh_token"),
        token_uri=_optional_text(info, "token_uri") or GOOGLE_TOKEN_URL,
    )


def _required_text(info: dict[str, Any], name: str) -> str:
    value = info.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"has no '{name}'")
    return value


def _optional_text(info: dict[str, Any], name: str) -> str | None:
    value = info.get(name)
    return value if isinstance(value, str) and value else None
