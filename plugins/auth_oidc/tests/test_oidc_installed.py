"""The installed distribution offers identity-provider sign-in where the gateway looks."""

from __future__ import annotations

from gateway_auth_oidc import OidcSignIn

from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"
OIDC = {
    "session_jwt_secret": "s" * 48,
    "oidc_enabled": True,
    "oidc_issuer": "https://accounts.google.com",
    "oidc_client_id": "client",
    "oidc_client_secret": "client-secret",
    "oidc_redirect_url": "https://gw.example.com/admin/auth/oidc/callback",
    "oidc_allowed_domains": "example.com",
}


def admin_auth(config: dict) -> AdminAuth:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}, **config})
    return AdminAuth.build(settings, build_plugins(settings), InProcessState())


def test_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["auth_oidc"]
    assert entry.value == "gateway_auth_oidc"
    assert entry.dist is not None and entry.dist.name == "gateway-auth-oidc"
    assert entry.load().OidcSignIn is OidcSignIn


def test_plugin_and_flag_together_offer_oidc() -> None:
    assert admin_auth({"plugins": ["auth_oidc"], "admin": OIDC}).names() == ["oidc"]


def test_plugin_without_the_flag_offers_nothing() -> None:
    admin = {**OIDC, "oidc_enabled": False}
    assert admin_auth({"plugins": ["auth_oidc"], "admin": admin}).names() == []


def test_installed_but_not_enabled_registers_nothing() -> None:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}})
    assert "auth_oidc" not in build_plugins(settings).names()
