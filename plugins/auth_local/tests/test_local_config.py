"""Accepted and refused settings of ``plugins: {auth_local: {...}}``."""

from __future__ import annotations

import pytest

from gateway_core.config import ConfigError
from gateway_core.plugins import build_plugins
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState
from gateway_core.testing import settings_from_mapping

MASTER_KEY = "sk-master-key-1234"
SECRET = "s" * 48


def build(section: object, admin: dict | None = None) -> AdminAuth:
    settings = settings_from_mapping(
        {
            "auth": {"master_key": MASTER_KEY},
            "admin": {"session_jwt_secret": SECRET, **(admin or {})},
            "plugins": {"auth_local": section},
        }
    )
    return AdminAuth.build(settings, build_plugins(settings), InProcessState())


def test_defaults_are_safe() -> None:
    method = build(True).password_method()
    assert method is not None
    config = method.config
    assert (config.argon2.time_cost, config.argon2.memory_cost) == (3, 65536)
    assert (config.max_failures_per_account, config.failure_window) == (5, 900)


def test_settings_are_validated_and_durations_parsed() -> None:
    method = build(
        {
            "argon2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
            "max_failures_per_account": 3,
            "failure_window": "2m",
        }
    ).password_method()
    assert method is not None
    assert (method.config.argon2.memory_cost, method.config.failure_window) == (1024, 120)


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"argon2": {"time_cost": 0}}, "plugins.auth_local.argon2.time_cost"),
        ({"max_failures_per_ip": 0}, "plugins.auth_local.max_failures_per_ip"),
        ({"min_password_length": 4}, "plugins.auth_local.min_password_length"),
        ({"throttle": True}, "plugins.auth_local.throttle: unknown key"),
    ],
)
def test_bad_settings_name_the_key(section: dict, where: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build(section)
    assert where in str(refused.value)


def test_sign_in_without_a_session_secret_is_refused() -> None:
    settings = settings_from_mapping(
        {"auth": {"master_key": MASTER_KEY}, "plugins": ["auth_local"]}
    )
    with pytest.raises(ConfigError) as refused:
        AdminAuth.build(settings, build_plugins(settings), InProcessState())
    assert "ADMIN_SESSION_JWT_SECRET" in str(refused.value)
