"""The installed distribution offers password sign-in where the gateway looks for plugins."""

from __future__ import annotations

from gateway_auth_local import LocalSignIn

from gateway_core.plugins import build_plugins, installed_entry_points
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"
SECRET = "s" * 48


def test_entry_point_names_the_plugin_module() -> None:
    entry = installed_entry_points()["auth_local"]
    assert entry.value == "gateway_auth_local"
    assert entry.dist is not None and entry.dist.name == "gateway-auth-local"
    assert entry.load().LocalSignIn is LocalSignIn


def admin_auth(config: dict) -> AdminAuth:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}, **config})
    return AdminAuth.build(settings, build_plugins(settings), InProcessState())


def test_enabled_plugin_offers_local_sign_in() -> None:
    built = admin_auth({"plugins": ["auth_local"], "admin": {"session_jwt_secret": SECRET}})
    assert built.names() == ["local"]
    assert isinstance(built.password_method(), LocalSignIn)


def test_installed_but_not_enabled_offers_nothing() -> None:
    assert admin_auth({"admin": {"session_jwt_secret": SECRET}}).names() == []


def test_the_flag_switches_it_off_for_sso_only() -> None:
    built = admin_auth(
        {
            "plugins": ["auth_local"],
            "admin": {"session_jwt_secret": SECRET, "local_enabled": False},
        }
    )
    assert built.names() == [] and built.password_method() is None
