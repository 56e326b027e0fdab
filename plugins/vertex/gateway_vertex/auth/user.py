"""A user's gcloud application-default credentials: a refresh token traded for access tokens."""

from __future__ import annotations

from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import AccessToken
from gateway_vertex.auth.keys import AuthorizedUser

SERVICE = "Google's token endpoint"


class AuthorizedUserTokens:
    def __init__(
        self, user: AuthorizedUser, token_url: str | None, requests: TokenRequests
    ) -> None:
        self.user = user
        self.url = token_url or user.token_uri
        self.requests = requests

    async def __call__(self) -> AccessToken:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.user.client_id,
            "client_secret": self.user.client_secret,
            "refresh_token": self.user.refresh_token,
        }
        return await self.requests.post_form(self.url, form, SERVICE)
