"""Accepted and rejected Azure deployment configs, checked as `gateway config check` does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway_azure.config import AzureConfig, EntraIdConfig
from pydantic import BaseModel

from gateway_core.config import ConfigError
from gateway_core.gateway import check_settings
from gateway_core.testing import settings_from_mapping

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
KEY = "0123456789abcdef0123456789abcdef"
ENDPOINT = "https://contoso-eu.openai.azure.com"
ENTRA_ID = {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app-1", "client_secret": "s3"}


def resolve(deployment: dict[str, Any], *, plugins: Any = ("azure",)) -> AzureConfig:
    """Validate one deployment inside a complete gateway config; return the adapter config."""
    settings = settings_from_mapping(
        {
            "auth": {"master_key": "sk-master-key-1234"},
            "plugins": list(plugins) if isinstance(plugins, tuple) else plugins,
            "models": [{"name": "gpt-4o", "deployments": [deployment]}],
        }
    )
    _plugins, models = check_settings(settings)
    return models[0].deployments[0].config


def deployment(**keys: Any) -> dict[str, Any]:
    base = {"provider": "azure", "endpoint": ENDPOINT, "deployment": "gpt-4o-prod", "api_key": KEY}
    return {name: value for name, value in {**base, **keys}.items() if value is not None}


def test_minimal_api_key_deployment_gets_the_defaults() -> None:
    config = resolve(deployment(endpoint=ENDPOINT + "/"))
    assert config.endpoint == ENDPOINT
    assert (config.url_style, config.api_version) == ("deployments", "2024-10-21")
    assert config.api_key.get_secret_value() == KEY
    assert config.entra_id is None


def test_v1_api_and_an_api_version_override_are_accepted() -> None:
    assert resolve(deployment(url_style="v1")).url_style == "v1"
    assert resolve(deployment(api_version="2025-04-01-preview")).api_version == (
        "2025-04-01-preview"
    )


def test_entra_id_defaults_to_the_public_cloud_and_cognitive_services_scope() -> None:
    config = resolve(deployment(api_key=None, entra_id=ENTRA_ID))
    assert config.entra_id.authority_host == "https://login.microsoftonline.com"
    assert config.entra_id.scope == "https://cognitiveservices.azure.com/.default"
    sovereign = resolve(
        deployment(
            api_key=None,
            entra_id={**ENTRA_ID, "authority_host": "https://login.microsoftonline.us/"},
        )
    )
    assert sovereign.entra_id.authority_host == "https://login.microsoftonline.us"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"entra_id": ENTRA_ID}, "deployments[0]: Value error, set exactly one of api_key and"),
        ({"api_key": None}, "deployments[0]: Value error, set exactly one of api_key and"),
        (
            {"url_style": "v1", "api_version": "2024-10-21"},
            "api_version applies to url_style 'deployments' only",
        ),
        (
            {"endpoint": ENDPOINT + "/openai/deployments/gpt-4o-prod"},
            "endpoint: Value error, give the resource root",
        ),
        ({"endpoint": "contoso.openai.azure.com"}, "deployments[0].endpoint: String should match"),
        ({"deployment": "gpt/4o"}, "deployments[0].deployment: String should match"),
        ({"api_version": "latest"}, "deployments[0].api_version: String should match"),
        ({"url_style": "classic"}, "deployments[0].url_style: Input should be"),
        ({"api_verison": "2024-10-21"}, "deployments[0].api_verison: unknown key"),
        ({"headers": {"Api-Key": "x"}}, "Api-Key is set by the adapter"),
        (
            {"api_key": None, "entra_id": {"tenant_id": "t", "client_id": "c"}},
            "deployments[0].entra_id.client_secret: required key is missing",
        ),
        (
            {"api_key": None, "entra_id": {**ENTRA_ID, "tenant_id": "../x"}},
            "deployments[0].entra_id.tenant_id: String should match",
        ),
    ],
)
def test_rejected_configs_name_the_key(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(**keys))
    assert any(problem in line for line in caught.value.problems), caught.value.problems
    assert KEY not in str(caught.value), "a config error must never echo a secret"


def test_the_provider_exists_only_while_the_plugin_is_enabled() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(), plugins={"azure": False})
    assert "Unknown provider type 'azure' for model 'gpt-4o'" in str(caught.value)


def documented_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    return [f"{prefix}{name}" for name in model.model_fields]


def test_every_key_is_documented_in_the_readme() -> None:
    keys = documented_keys(AzureConfig) + documented_keys(EntraIdConfig, "entra_id.")
    missing = [key for key in keys if f"`{key}`" not in README]
    assert not missing, f"keys missing from plugins/azure/README.md: {missing}"


def test_the_readme_examples_are_valid_configs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    configs = [yaml.safe_load(block) for block in blocks]
    complete = [config for config in configs if isinstance(config, dict) and "models" in config]
    assert complete, "the README shows at least one complete config"
    env = {
        "AZURE_OPENAI_KEY": KEY,
        "AZURE_CLIENT_SECRET": "s3",
        "GATEWAY_MASTER_KEY": "sk-x1234567",
    }
    for config in complete:
        check_settings(settings_from_mapping(config, env))
