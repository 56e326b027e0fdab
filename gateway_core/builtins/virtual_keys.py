"""Built-in auth method: virtual API keys issued through the admin API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gateway_core import hookimpl
from gateway_core.api import AuthMethod, Identity
from gateway_core.errors import AuthenticationFailed
from gateway_core.tenancy.keys import looks_like_key

if TYPE_CHECKING:
    from sanic import Request, Sanic

    from gateway_core.registry import Registry
    from gateway_core.tenancy.key_cache import KeyCache


class VirtualKeyAuth(AuthMethod):
    """Accepts ``sk-gw-…`` keys; abstains on anything that does not look like one.

    Unknown, revoked and expired keys are refused with distinct messages that speak only of
    the key presented.
    """

    type_name = "virtual_key"
    cache: KeyCache

    async def startup(self, app: Sanic) -> None:
        self.cache = app.ctx.gateway.key_cache

    async def authenticate(self, request: Request, token: str | None) -> Identity | None:
        if token is None or not looks_like_key(token):
            return None
        record = await self.cache.lookup(token)
        if record is None:
            raise AuthenticationFailed("Invalid API key.")
        if record.revoked:
            raise AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
        if record.expires_at is not None and time.time() >= record.expires_at:
            raise AuthenticationFailed("This API key has expired.", code="api_key_expired")
        return record.identity


@hookimpl
def gateway_register_auth_methods(auth_methods: Registry[type[AuthMethod]]) -> None:
    auth_methods.add(VirtualKeyAuth)
