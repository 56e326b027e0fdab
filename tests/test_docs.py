"""The docs describe what the code accepts: every config key and variable is on the page."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from gateway_core.config import ENV_OVERRIDES, DeploymentConfig, Settings
from tests.conftest import ROOT

CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()


def key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Documented spelling of every key: lists as ``[]``, plugin sections as ``<name>``."""
    paths = []
    for name, field in model.model_fields.items():
        if name == "source":
            continue
        path = f"{prefix}{name}"
        annotation = field.annotation
        if model is Settings and name == "plugins":
            paths.append("plugins.<name>")
            continue
        paths.append(path)
        if typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            if isinstance(item, type) and issubclass(item, BaseModel):
                paths += key_paths(item, f"{path}[].")
            continue
        for candidate in typing.get_args(annotation) or (annotation,):
            # Deployment timeouts and limits reuse documented models; their keys are listed once.
            if (
                isinstance(candidate, type)
                and issubclass(candidate, BaseModel)
                and (model is not DeploymentConfig)
            ):
                paths += key_paths(candidate, f"{path}.")
    return paths


def test_every_config_key_is_documented() -> None:
    paths = key_paths(Settings)
    assert "models[].deployments[].weight" in paths
    missing = [path for path in paths if f"`{path}`" not in CONFIG_DOC]
    assert not missing, f"undocumented config keys: {missing}"


def test_every_environment_variable_is_documented() -> None:
    missing = [name for name in ENV_OVERRIDES if f"`{name}`" not in CONFIG_DOC]
    assert not missing, f"undocumented variables: {missing}"
