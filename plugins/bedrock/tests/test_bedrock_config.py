"""Accepted and rejected Bedrock deployment configs, checked as `gateway config check` does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway_bedrock.adapter import model_url, runtime_root
from gateway_bedrock.config import BedrockConfig

from gateway_core.config import ConfigError
from gateway_core.gateway import check_settings
from gateway_core.testing import settings_from_mapping

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECRET = "bedrock-config-secret-0f3a9c"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def resolve(deployment: dict[str, Any], *, plugins: Any = ("bedrock",)) -> BedrockConfig:
    """Validate one deployment inside a complete gateway config; return the adapter config."""
    settings = settings_from_mapping(
        {
            "auth": {"master_key": "sk-master-key-1234"},
            "plugins": list(plugins) if isinstance(plugins, tuple) else plugins,
            "models": [{"name": "claude", "deployments": [deployment]}],
        }
    )
    _plugins, models = check_settings(settings)
    return models[0].deployments[0].config


def deployment(**keys: Any) -> dict[str, Any]:
    base = {"provider": "bedrock", "model": HAIKU, "region": "us-east-1"}
    return {name: value for name, value in {**base, **keys}.items() if value is not None}


def test_a_minimal_deployment_signs_with_the_credential_chain() -> None:
    config = resolve(deployment())
    assert config.signs_with_sigv4
    assert (config.api_key, config.aws_access_key_id, config.profile, config.role_arn) == (
        None,
        None,
        None,
        None,
    )
    assert config.temperature_above_one == "reject"
    assert config.cohere_input_type == "search_document"
    assert runtime_root(config) == "https://bedrock-runtime.us-east-1.amazonaws.com"
    assert model_url(config, "converse") == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    )


def test_endpoints_by_region_and_override() -> None:
    assert runtime_root(resolve(deployment(region="cn-north-1"))) == (
        "https://bedrock-runtime.cn-north-1.amazonaws.com.cn"
    )
    assert runtime_root(resolve(deployment(region="us-gov-west-1"))) == (
        "https://bedrock-runtime.us-gov-west-1.amazonaws.com"
    )
    custom = resolve(deployment(endpoint_url="https://vpce-1.bedrock-runtime.example.com/"))
    assert runtime_root(custom) == "https://vpce-1.bedrock-runtime.example.com"


def test_every_way_to_sign_in_is_accepted() -> None:
    keys = resolve(
        deployment(aws_access_key_id="AKID1", aws_secret_access_key=SECRET, aws_session_token="t")
    )
    assert keys.aws_secret_access_key.get_secret_value() == SECRET
    assert resolve(deployment(profile="team")).profile == "team"
    role = resolve(deployment(role_arn="arn:aws:iam::123456789012:role/invoker", external_id="x-1"))
    assert (role.role_session_name, role.external_id.get_secret_value()) == (
        "gateway-bedrock",
        "x-1",
    )
    api = resolve(deployment(api_key=SECRET))
    assert not api.signs_with_sigv4


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"model": None}, "deployments[0].model: required key is missing"),
        ({"model": "has space"}, "deployments[0].model: String should match"),
        ({"region": None}, "deployments[0].region: required key is missing"),
        ({"region": "US East"}, "deployments[0].region: String should match"),
        ({"endpoint_url": "bedrock.local"}, "deployments[0].endpoint_url: String should match"),
        (
            {"endpoint_url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/x"},
            "give the service root",
        ),
        ({"api_key": SECRET, "profile": "team"}, "api_key signs in by itself: remove profile"),
        (
            {"api_key": SECRET, "aws_access_key_id": "AKID", "aws_secret_access_key": SECRET},
            "remove aws_access_key_id, aws_secret_access_key",
        ),
        ({"aws_access_key_id": "AKID"}, "give aws_access_key_id and aws_secret_access_key"),
        ({"aws_session_token": SECRET}, "aws_session_token needs aws_access_key_id"),
        (
            {"profile": "team", "aws_access_key_id": "A", "aws_secret_access_key": SECRET},
            "either profile or explicit aws_* keys",
        ),
        ({"external_id": SECRET}, "external_id only applies with role_arn"),
        ({"role_arn": "arn:aws:iam::123:role/x"}, "deployments[0].role_arn: String should match"),
        ({"temperature_above_one": "scale"}, "deployments[0].temperature_above_one: Input should"),
        ({"embedding_format": "openai"}, "deployments[0].embedding_format: Input should be"),
        ({"cohere_input_type": "search"}, "deployments[0].cohere_input_type: Input should be"),
        ({"regoin": "us-east-1"}, "deployments[0].regoin: unknown key"),
    ],
)
def test_rejected_configs_name_the_key(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(**keys))
    assert any(problem in line for line in caught.value.problems), caught.value.problems
    assert SECRET not in str(caught.value), "a config error must never echo a secret"


def test_the_provider_exists_only_while_the_plugin_is_enabled() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(), plugins={"bedrock": False})
    assert "Unknown provider type 'bedrock' for model 'claude'" in str(caught.value)


def test_every_key_is_documented_in_the_readme() -> None:
    missing = [key for key in BedrockConfig.model_fields if f"`{key}`" not in README]
    assert not missing, f"keys missing from plugins/bedrock/README.md: {missing}"


def test_the_readme_examples_are_valid_configs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    configs = [yaml.safe_load(block) for block in blocks]
    complete = [config for config in configs if isinstance(config, dict) and "models" in config]
    assert complete, "the README shows at least one complete config"
    env = {"AWS_BEARER_TOKEN_BEDROCK": SECRET, "GATEWAY_MASTER_KEY": "sk-x1234567"}
    for config in complete:
        check_settings(settings_from_mapping(config, env))
