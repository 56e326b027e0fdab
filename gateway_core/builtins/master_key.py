"""Built-in auth method: the operator's master key from ``auth.master_key``."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from gateway_core import hookimpl
from gateway_core.api import AuthMethod, Identity

if TYPE_CHECKING:
    from sanic import Request

    from gateway_core.config import Settings
    from gateway_core.registry import Registry

MASTER_IDENTITY = Identity(subject="master", method="master_key", role="admin")


class MasterKeyAuth(AuthMethod):
    """Accepts the master key, abstains on anything else so later methods can decide."""

    type_name = "master_key"

    def __init__(self, config: object, settings: Settings) -> None:
        super().__init__(config, settings)
        secret = settings.auth.master_key
        self._key = secret.get_secret_value().encode() if secret is not None else None

    async def authenticate(self, request: Request, token: str | None) -> Identity | None:
        if token is None or self._key is None:
            return None
        if hmac.compare_digest(token.encode(), self._key):
            return MASTER_IDENTITY
        return None


@hookimpl
def gateway_register_auth_methods(auth_methods: Registry[type[AuthMethod]]) -> None:
    auth_methods.add(MasterKeyAuth)
