"""Password sign-in for gateway admins (``POST /admin/auth/login``), as a plugin.

Enable it with ``plugins: [auth_local]``; ``ADMIN_LOCAL_ENABLED=false`` switches it off again
(SSO only). Passwords are set from the command line: ``gateway admin set-password``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_auth_local.config import LocalSignInConfig
from gateway_auth_local.signin import LocalSignIn
from gateway_core import hookimpl

if TYPE_CHECKING:
    from gateway_core.registry import Registry
    from gateway_core.sessions import SignInMethod

__all__ = ["LocalSignIn", "LocalSignInConfig"]


@hookimpl
def gateway_plugin_config_model() -> type[LocalSignInConfig]:
    return LocalSignInConfig


@hookimpl
def gateway_register_sign_in_methods(methods: Registry[type[SignInMethod]]) -> None:
    methods.add(LocalSignIn)
