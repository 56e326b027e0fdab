"""Accepted and refused OIDC settings: the core's ``admin.oidc_*`` and the plugin's section."""

from __future__ import annotations

import pytest

from gateway_core.config import ConfigError
from gateway_core.plugins import build_plugins
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"
OIDC = {
    "session_jwt_secret": "s" * 48,
    "oidc_enabled": True,
    "oidc_issuer": "https://login.example.com",
    "oidc_client_id": "client",
    "oidc_client_secret": "client-secret-value",
    "oidc_redirect_url": "https://gw.example.com/admin/auth/oidc/callback",
    "oidc_allowed_domains": ["example.com"],
}


def build(admin: dict | None = None, section: object = True) -> AdminAuth:
    settings = settings_from_mapping(
        {
            "auth": {"master_key": MASTER_KEY},
            "admin": {**OIDC, **(admin or {})},
            "plugins": {"auth_oidc": section},
        }
    )
    return AdminAuth.build(settings, build_plugins(settings), InProcessState())


def test_a_complete_configuration_builds() -> None:
    (method,) = build().methods
    assert method.config.default_role == "viewer"


def test_first_sign_in_roles_are_mapped_by_lower_case_email() -> None:
    (method,) = build(
        section={"default_role": "admin", "roles": {"Ops@Example.com": "viewer"}}
    ).methods
    assert method.config.roles == {"ops@example.com": "viewer"}


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ({"oidc_issuer": None}, "oidc_issuer is not set"),
        ({"oidc_client_secret": None}, "oidc_client_secret is not set"),
        ({"oidc_allowed_domains": []}, "oidc_allowed_domains is not set"),
        ({"oidc_scopes": "email profile"}, "must include 'openid'"),
        ({"oidc_issuer": "http://login.example.com"}, "ADMIN_OIDC_ISSUER) must be an https URL"),
        ({"oidc_redirect_url": "http://gw.example.com/cb"}, "ADMIN_OIDC_REDIRECT_URL"),
    ],
)
def test_incomplete_or_insecure_settings_are_refused(admin: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build(admin)
    assert expected in str(refused.value)
    assert "client-secret-value" not in str(refused.value)


def test_loopback_http_is_allowed_for_development() -> None:
    assert build({"oidc_issuer": "http://127.0.0.1:8000"}).names() == ["oidc"]


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"default_role": "team_admin"}, "plugins.auth_oidc.default_role"),
        ({"roles": {"a@example.com": "owner"}}, "plugins.auth_oidc.roles.a@example.com"),
        ({"state_ttl": "soon"}, "plugins.auth_oidc.state_ttl"),
        ({"issuer": "x"}, "plugins.auth_oidc.issuer: unknown key"),
    ],
)
def test_bad_plugin_settings_name_the_key(section: dict, where: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build(section=section)
    assert where in str(refused.value)


def test_the_flag_without_the_plugin_says_which_plugin() -> None:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "admin": OIDC})
    with pytest.raises(ConfigError) as refused:
        AdminAuth.build(settings, build_plugins(settings), InProcessState())
    assert "ADMIN_OIDC_ENABLED" in str(refused.value) and "auth_oidc" in str(refused.value)
