"""AWS Signature Version 4 for Bedrock requests, computed by botocore's own signer.

The signer is handed the URL exactly as it goes on the wire: the model id is already
percent-encoded in the path (``%3A``), and botocore encodes the path once more for the
canonical request (``%253A``), as AWS does for every service but S3. The gateway's
:class:`~gateway_core.http.UpstreamClient` then sends the signed request with its path bytes
unchanged, so what was signed is what arrives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from gateway_bedrock.credentials import CredentialCache

#: Bedrock Runtime signs as "bedrock", not as its host prefix "bedrock-runtime".
SIGNING_NAME = "bedrock"
#: Headers a transport may rewrite (or drop) on the way: not signed, so they cannot break it.
UNSIGNED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "user-agent"})
#: What the signer adds; copied back onto the outgoing request.
SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def sign(request: httpx.Request, credentials: ReadOnlyCredentials, region: str) -> None:
    """Add SigV4 headers to ``request`` in place, for its method, URL, headers and body."""
    aws_request = AWSRequest(
        method=request.method,
        url=str(request.url),
        data=request.content,
        headers={
            name: value
            for name, value in request.headers.items()
            if name.lower() not in UNSIGNED_HEADERS
        },
    )
    SigV4Auth(credentials, SIGNING_NAME, region).add_auth(aws_request)
    for name in SIGNATURE_HEADERS:
        value = aws_request.headers.get(name)
        if value is not None:
            request.headers[name] = value


class SigV4Signer(httpx.Auth):
    """Signs every request with the deployment's current credentials (async flows only)."""

    def __init__(self, credentials: CredentialCache, region: str) -> None:
        self.credentials = credentials
        self.region = region

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        sign(request, await self.credentials.get(), self.region)
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("SigV4Signer resolves credentials asynchronously; use an async client")
