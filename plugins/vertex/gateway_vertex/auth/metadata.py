"""Tokens from the metadata server of Compute Engine, GKE, Cloud Run and Cloud Functions.

The workload's attached service account signs in for us: one GET, no key anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from gateway_core.api import UpstreamError
from gateway_core.token_requests import AUTH_FAILED, TokenRequests
from gateway_core.tokens import AccessToken

DEFAULT_HOST = "metadata.google.internal"
#: The variable Google's libraries read to move the metadata server (emulators, tests).
HOST_VARIABLE = "GCE_METADATA_HOST"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105
SERVICE = "The metadata server"


def metadata_root(configured: str | None, environ: Mapping[str, str]) -> str:
    if configured:
        return configured
    return f"http://{environ.get(HOST_VARIABLE) or DEFAULT_HOST}"


class MetadataServerTokens:
    def __init__(self, root: str, scopes: Sequence[str], requests: TokenRequests) -> None:
        self.url = f"{root}{TOKEN_PATH}?scopes={quote(','.join(scopes), safe=',')}"
        self.requests = requests

    async def __call__(self) -> AccessToken:
        try:
            return await self.requests.get(self.url, {"Metadata-Flavor": "Google"}, SERVICE)
        except UpstreamError as failed:
            if failed.code == AUTH_FAILED:
                raise
            # Off Google Cloud there is no metadata server: say where credentials could be.
            raise self.requests.failed(
                "no Google credentials found: GOOGLE_APPLICATION_CREDENTIALS is not set, there "
                "is no gcloud application-default credentials file, and the metadata server "
                f"did not answer ({failed.message})"
            ) from None
