"""Accepted and rejected deployment configs, validated exactly as `gateway config check` does."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_core.config import ConfigError
from gateway_core.gateway import check_settings
from gateway_core.testing import settings_from_mapping

API_KEY = "acme-test-key-2f9c41"


def check(deployment: dict[str, Any], plugins: Any = ("acme",)) -> Any:
    """Validate one deployment in a whole gateway config; return the adapter's config."""
    settings = settings_from_mapping(
        {
            "auth": {"master_key": "sk-master-key-1234"},
            "plugins": list(plugins) if isinstance(plugins, tuple) else plugins,
            "models": [{"name": "acme-small", "deployments": [deployment]}],
        }
    )
    _plugins, models = check_settings(settings)
    return models[0].deployments[0].config


def acme(**keys: Any) -> dict[str, Any]:
    return {"provider": "acme", "model": "acme-small-2", "api_key": API_KEY, **keys}


def test_a_minimal_deployment_uses_the_public_api() -> None:
    config = check(acme())
    assert config.base_url == "https://api.acme.example"
    assert config.api_key.get_secret_value() == API_KEY


def test_the_base_url_can_point_elsewhere() -> None:
    assert check(acme(base_url="http://127.0.0.1:9000")).base_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"model": ""}, "deployments[0].model: String should have at least 1 character"),
        ({"api_key": None}, "deployments[0].api_key: Input should be a valid string"),
        ({"base_url": "api.acme.example"}, "deployments[0].base_url: String should match"),
        ({"modle": "x"}, "deployments[0].modle: unknown key"),
    ],
)
def test_mistakes_are_reported_with_the_key(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check(acme(**keys))
    assert any(problem in line for line in caught.value.problems), caught.value.problems
    assert API_KEY not in str(caught.value), "config errors never repeat secrets"


def test_a_missing_key_is_reported() -> None:
    deployment = acme()
    del deployment["api_key"]
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.api_key: required key is missing"):
        check(deployment)


def test_disabling_the_plugin_removes_the_provider() -> None:
    with pytest.raises(ConfigError, match="Unknown provider type 'acme' for model 'acme-small'"):
        check(acme(), plugins={"acme": False})
