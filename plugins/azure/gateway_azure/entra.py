"""Microsoft Entra ID access tokens by the client-credentials grant.

Tokens are fetched through the worker's shared :class:`~gateway_core.http.UpstreamClient`
rather than a client of our own: there is then no second connection pool to open and close
with the adapter, and a token endpoint that is down or slow fails with the same gateway errors
and timeouts as the deployment it serves. One fetch an hour per deployment makes speed moot.
"""

from __future__ import annotations

from gateway_azure.config import EntraIdConfig
from gateway_core.api import Timeouts, UpstreamClient
from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import AccessToken, BearerTokenAuth, TokenCache


class EntraIdAuth(BearerTokenAuth):
    """``Authorization: Bearer`` with a service principal's token, cached per deployment."""

    def __init__(
        self, config: EntraIdConfig, http: UpstreamClient, timeouts: Timeouts, deployment: str
    ) -> None:
        super().__init__(TokenCache(ClientCredentials(config, http, timeouts, deployment)))


class ClientCredentials:
    """Fetches one access token for a service principal; a :class:`TokenCache` calls it."""

    def __init__(
        self, config: EntraIdConfig, http: UpstreamClient, timeouts: Timeouts, deployment: str
    ) -> None:
        self.config = config
        self.requests = TokenRequests(http, timeouts, deployment)
        self.url = f"{config.authority_host}/{config.tenant_id}/oauth2/v2.0/token"

    async def __call__(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value(),
            "scope": self.config.scope,
        }
        return await self.requests.post_form(self.url, form, "Entra ID")
