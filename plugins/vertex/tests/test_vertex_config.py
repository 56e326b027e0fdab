"""Accepted and rejected Vertex deployment configs, checked as `gateway config check` does,
and the URLs each one leads to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from gateway_vertex.config import (
    ApplicationDefaultCredentials,
    SafetySetting,
    ServiceAccountCredentials,
    VertexConfig,
)
from gateway_vertex.urls import model_url
from pydantic import BaseModel
from vertex_fakes import pem_secret_line, service_account_info, service_account_json

from gateway_core.config import ConfigError
from gateway_core.gateway import check_settings
from gateway_core.testing import settings_from_mapping

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def resolve(deployment: dict[str, Any], *, plugins: Any = ("vertex",)) -> VertexConfig:
    """Validate one deployment inside a complete gateway config; return the adapter config."""
    settings = settings_from_mapping(
        {
            "auth": {"master_key": "sk-master-key-1234"},
            "plugins": list(plugins) if isinstance(plugins, tuple) else plugins,
            "models": [{"name": "gemini", "deployments": [deployment]}],
        }
    )
    _plugins, models = check_settings(settings)
    return models[0].deployments[0].config


def deployment(**keys: Any) -> dict[str, Any]:
    base = {
        "provider": "vertex",
        "model": "gemini-2.5-flash",
        "project": "acme-prod",
        "location": "europe-west4",
    }
    return {name: value for name, value in {**base, **keys}.items() if value is not None}


def test_minimal_deployment_signs_in_with_application_default_credentials() -> None:
    config = resolve(deployment())
    assert config.credentials == ApplicationDefaultCredentials()
    assert config.credentials.scopes == (CLOUD_PLATFORM,)
    assert (config.api_version, config.schemas, config.default_retry_after) == (
        "v1",
        "openapi",
        2.0,
    )
    assert model_url(config, "generateContent") == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/"
        "europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    )


def test_the_global_location_has_a_host_without_a_region() -> None:
    config = resolve(deployment(location="global", api_version="v1beta1"))
    assert model_url(config, "streamGenerateContent") == (
        "https://aiplatform.googleapis.com/v1beta1/projects/acme-prod/locations/global/"
        "publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    )


def test_an_endpoint_override_replaces_the_host_and_keeps_the_path() -> None:
    config = resolve(deployment(endpoint="https://vertex-proxy.internal.example/google/"))
    assert config.endpoint == "https://vertex-proxy.internal.example/google"
    assert model_url(config, "predict").startswith(
        "https://vertex-proxy.internal.example/google/v1/projects/acme-prod/locations/europe-west4/"
    )


def test_service_account_keys_inline_or_from_a_file(tmp_path: Path) -> None:
    inline = resolve(
        deployment(credentials={"type": "service_account", "key": service_account_json()})
    )
    assert isinstance(inline.credentials, ServiceAccountCredentials)
    assert pem_secret_line() not in repr(inline), "the key stays out of reprs"
    path = tmp_path / "key.json"
    from_file = resolve(
        deployment(
            credentials={
                "type": "service_account",
                "key_file": str(path),  # read when the first token is needed, not now
                "token_url": "https://sts.example/token",
            }
        )
    )
    assert from_file.credentials.key_file == path
    assert from_file.credentials.token_url == "https://sts.example/token"


def test_embedding_batch_size_defaults_to_what_each_model_family_accepts() -> None:
    assert resolve(deployment(model="text-embedding-005")).batch_size == 250
    assert resolve(deployment(model="gemini-embedding-001")).batch_size == 1
    assert resolve(deployment(model="gemini-embedding-001", embedding_batch_size=5)).batch_size == 5


def test_safety_settings_are_validated() -> None:
    settings = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_ONLY_HIGH"}]
    config = resolve(deployment(safety_settings=settings))
    assert config.safety_settings == (
        SafetySetting(category="HARM_CATEGORY_HATE_SPEECH", threshold="BLOCK_ONLY_HIGH"),
    )


BAD_KEY = {**service_account_info(), "type": "authorized_user"}


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"project": None}, "deployments[0].project: required key is missing"),
        ({"location": None}, "deployments[0].location: required key is missing"),
        ({"model": "publishers/google/models/x"}, "deployments[0].model: String should match"),
        ({"location": "Europe West"}, "deployments[0].location: String should match"),
        ({"endpoint": "aiplatform.googleapis.com"}, "deployments[0].endpoint: String should match"),
        (
            {"endpoint": "https://us-central1-aiplatform.googleapis.com/v1/projects/p"},
            "give the API root",
        ),
        ({"api_version": "v2"}, "deployments[0].api_version: Input should be"),
        ({"schemas": "openai"}, "deployments[0].schemas: Input should be"),
        ({"region": "us-central1"}, "deployments[0].region: unknown key"),
        ({"headers": {"Authorization": "Bearer x"}}, "Authorization is set by the adapter"),
        ({"default_retry_after": 0}, "deployments[0].default_retry_after: Input should be greater"),
        ({"credentials": {"type": "api_key"}}, "deployments[0].credentials: Input tag 'api_key'"),
        (
            {"credentials": {"type": "service_account"}},
            "set exactly one of key_file and key",
        ),
        (
            {"credentials": {"type": "service_account", "key": "{not json"}},
            "key is not JSON",
        ),
        (
            {"credentials": {"type": "service_account", "key": orjson.dumps(BAD_KEY).decode()}},
            "key is not a service-account key",
        ),
        (
            {"credentials": {"type": "application_default", "scopes": []}},
            "deployments[0].credentials.application_default.scopes: Tuple should have at least",
        ),
        (
            {"safety_settings": [{"category": "hate", "threshold": "BLOCK_NONE"}]},
            "safety_settings[0].category: String should match",
        ),
    ],
)
def test_rejected_configs_name_the_key(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(**keys))
    assert any(problem in line for line in caught.value.problems), caught.value.problems
    assert pem_secret_line() not in str(caught.value), "a config error must never echo a key"


def test_the_provider_exists_only_while_the_plugin_is_enabled() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(deployment(), plugins={"vertex": False})
    assert "Unknown provider type 'vertex' for model 'gemini'" in str(caught.value)


def documented_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    return [f"{prefix}{name}" for name in model.model_fields]


def test_every_key_is_documented_in_the_readme() -> None:
    keys = (
        documented_keys(VertexConfig)
        + documented_keys(ServiceAccountCredentials, "credentials.")
        + documented_keys(ApplicationDefaultCredentials, "credentials.")
        + documented_keys(SafetySetting, "safety_settings[].")
    )
    missing = [key for key in keys if f"`{key}`" not in README]
    assert not missing, f"keys missing from plugins/vertex/README.md: {missing}"


def test_the_readme_examples_are_valid_configs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    configs = [yaml.safe_load(block) for block in blocks]
    complete = [config for config in configs if isinstance(config, dict) and "models" in config]
    assert complete, "the README shows at least one complete config"
    env = {"GATEWAY_MASTER_KEY": "sk-x1234567", "VERTEX_SA_KEY": service_account_json()}
    for config in complete:
        check_settings(settings_from_mapping(config, env))
