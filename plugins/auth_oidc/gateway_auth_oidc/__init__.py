"""OpenID Connect sign-in for gateway admins (Google Workspace, Entra ID, Okta...), as a plugin.

Enable it with ``plugins: [auth_oidc]`` and ``ADMIN_OIDC_ENABLED=true`` plus the
``ADMIN_OIDC_*`` settings; see docs/admin-auth.md for a worked example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_auth_oidc.config import OidcSignInConfig
from gateway_auth_oidc.signin import OidcSignIn
from gateway_core import hookimpl

if TYPE_CHECKING:
    from gateway_core.registry import Registry
    from gateway_core.sessions import SignInMethod

__all__ = ["OidcSignIn", "OidcSignInConfig"]


@hookimpl
def gateway_plugin_config_model() -> type[OidcSignInConfig]:
    return OidcSignInConfig


@hookimpl
def gateway_register_sign_in_methods(methods: Registry[type[SignInMethod]]) -> None:
    methods.add(OidcSignIn)
