"""Application default credentials (ADC): the first of Google's usual places that has some.

The order is the one Google's client libraries follow, so a deployment behaves as ``gcloud``
and the Google SDKs do on the same machine:

1. the file named by ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account key or user
   credentials);
2. gcloud's ``application_default_credentials.json`` (``gcloud auth application-default
   login``), under ``CLOUDSDK_CONFIG`` or the user's gcloud config folder;
3. the metadata server of the Google Cloud workload the gateway runs on.

The search reads files, so it runs in a thread, once, on the first token request.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import AccessToken
from gateway_vertex.auth.keys import (
    AUTHORIZED_USER,
    SERVICE_ACCOUNT,
    authorized_user,
    parse_credentials_file,
    service_account_key,
)
from gateway_vertex.auth.metadata import MetadataServerTokens, metadata_root
from gateway_vertex.auth.service_account import ServiceAccountTokens
from gateway_vertex.auth.user import AuthorizedUserTokens
from gateway_vertex.config import ApplicationDefaultCredentials

CREDENTIALS_VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"
WELL_KNOWN_FILE = "application_default_credentials.json"
_TYPE_NAME = re.compile(r"^[a-z_]{1,40}$")

TokenSource = Callable[[], Awaitable[AccessToken]]


class CredentialsNotFound(Exception):
    """ADC pointed somewhere that holds no usable credentials; the message names no secret."""


def credentials_file(environ: Mapping[str, str], home: Path) -> Path | None:
    """The credentials file ADC would use, or ``None`` to fall back to the metadata server."""
    named = environ.get(CREDENTIALS_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise CredentialsNotFound(f"{CREDENTIALS_VARIABLE} names a file that does not exist")
        return path
    if environ.get("CLOUDSDK_CONFIG"):
        folder = Path(environ["CLOUDSDK_CONFIG"])
    elif os.name == "nt" and environ.get("APPDATA"):
        folder = Path(environ["APPDATA"]) / "gcloud"
    else:
        folder = home / ".config" / "gcloud"
    well_known = folder / WELL_KNOWN_FILE
    return well_known if well_known.is_file() else None


def source_for_file(
    path: Path, config: ApplicationDefaultCredentials, requests: TokenRequests
) -> TokenSource:
    """The token source for an ADC file, by its ``type``."""
    try:
        info = parse_credentials_file(path.read_bytes())
    except OSError:
        raise CredentialsNotFound(
            "the application default credentials file cannot be read"
        ) from None
    except ValueError as problem:
        raise CredentialsNotFound(f"the application default credentials file {problem}") from None
    kind = info.get("type")
    try:
        if kind == SERVICE_ACCOUNT:
            key = service_account_key(info)
            return ServiceAccountTokens(lambda: key, config.token_url, config.scopes, requests)
        if kind == AUTHORIZED_USER:
            return AuthorizedUserTokens(authorized_user(info), config.token_url, requests)
    except ValueError as problem:
        raise CredentialsNotFound(f"the application default credentials file {problem}") from None
    named = f"'{kind}'" if isinstance(kind, str) and _TYPE_NAME.match(kind) else "this type"
    raise CredentialsNotFound(
        f"application default credentials of type {named} are not supported; use a "
        "service-account key, gcloud user credentials or the metadata server"
    )


class ApplicationDefaultTokens:
    """Finds the credentials on first use, then fetches tokens with them."""

    def __init__(
        self,
        config: ApplicationDefaultCredentials,
        requests: TokenRequests,
        *,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
    ) -> None:
        self.config = config
        self.requests = requests
        self.environ = os.environ if environ is None else environ
        self.home = home
        self._source: TokenSource | None = None

    async def __call__(self) -> AccessToken:
        if self._source is None:
            try:
                self._source = await asyncio.to_thread(self._discover)
            except CredentialsNotFound as problem:
                raise self.requests.failed(str(problem)) from None
        return await self._source()

    def _discover(self) -> TokenSource:
        path = credentials_file(self.environ, self.home or Path.home())
        if path is not None:
            return source_for_file(path, self.config, self.requests)
        root = metadata_root(self.config.metadata_url, self.environ)
        return MetadataServerTokens(root, self.config.scopes, self.requests)
