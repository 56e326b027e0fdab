"""Plugin discovery, activation, validation and introspection."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest
import yaml

from gateway_core import hookspecs
from gateway_core.app import create_app
from gateway_core.config import ConfigError
from gateway_core.gateway import check_settings
from gateway_core.plugins import DEFAULT_PLUGINS, build_plugins, distribution_name
from gateway_core.testing import GatewayProcess, settings_from_mapping
from tests.conftest import MASTER_KEY, ROOT, MockUpstream, deployment
from tests.plugins import async_lifecycle, echo_provider, misspelled_hook, second_openai

ECHO_MODEL = {"name": "echo-model", "deployments": [{"provider": "echo"}]}


def settings(**config):
    return settings_from_mapping({"auth": {"master_key": MASTER_KEY}, **config})


def install_echo_entry_point(site: Path) -> Path:
    """Write a real distribution record whose entry point names tests.plugins.echo_provider."""
    dist_info = site / "gateway_echo-1.2.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gateway-echo\nVersion: 1.2.3\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[gateway_core]\necho = tests.plugins.echo_provider\n"
    )
    return site


def test_builtins_are_registered_through_the_plugin_manager() -> None:
    plugins = build_plugins(settings())
    assert set(DEFAULT_PLUGINS) <= set(plugins.names())
    assert "openai" in plugins.registries.providers
    assert "master_key" in plugins.registries.auth_methods
    described = {info.name: info for info in plugins.describe()}
    assert described["openai"].origin == "builtin"
    assert described["openai"].registered == {"providers": ["openai"]}
    assert "gateway_register_providers" in described["openai"].hooks


def test_a_builtin_can_be_disabled() -> None:
    plugins = build_plugins(settings(plugins={"openai": False}))
    assert "openai" not in plugins.registries.providers
    with pytest.raises(ConfigError) as caught:
        check_settings(
            settings(
                plugins={"openai": False},
                models=[{"name": "m", "deployments": [{"provider": "openai"}]}],
            )
        )
    assert "Unknown provider type 'openai' for model 'm'. Available: none" in str(caught.value)


def test_entry_point_plugin_is_loaded_only_when_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(install_echo_entry_point(tmp_path)))
    assert "echo" not in build_plugins(settings()).registries.providers
    plugins = build_plugins(settings(plugins=["echo"]))
    assert "echo" in plugins.registries.providers
    echo = next(info for info in plugins.describe() if info.name == "echo")
    assert (echo.version, echo.origin) == ("1.2.3", "gateway-echo")
    assert echo.registered == {"providers": ["echo"]}


def test_enabled_but_missing_plugin_names_the_package() -> None:
    with pytest.raises(ConfigError) as caught:
        build_plugins(settings(plugins={"azur": True}))
    message = str(caught.value)
    assert "plugins.azur" in message
    assert f"pip install {distribution_name('azur')}" in message
    installed = message.split("Installed plugins: ", 1)[1].split(", ")
    assert set(DEFAULT_PLUGINS) <= set(installed) and installed == sorted(installed)


def test_unknown_provider_lists_what_is_available() -> None:
    with pytest.raises(ConfigError) as caught:
        check_settings(settings(models=[{"name": "gpt-4o", "deployments": [{"provider": "azur"}]}]))
    assert (
        "models[0].deployments[0].provider: Unknown provider type 'azur' for model 'gpt-4o'. "
        "Available: openai"
    ) in str(caught.value)


def test_misspelled_hook_fails_at_boot() -> None:
    with pytest.raises(ConfigError, match="gateway_register_provider"):
        build_plugins(settings(), {"typo": misspelled_hook})


def test_duplicate_type_names_name_both_classes() -> None:
    with pytest.raises(ConfigError) as caught:
        build_plugins(settings(), {"impostor": second_openai})
    message = str(caught.value)
    assert "OpenAIAdapter" in message and "ImpostorAdapter" in message


def test_plugin_sections_are_validated_against_the_plugins_model() -> None:
    plugins_config = {"echo": {"prefix": ">> "}}
    checked = settings(plugins=plugins_config)
    build_plugins(checked, {"echo": echo_provider})
    assert checked.plugin_config("echo").prefix == ">> "
    with pytest.raises(ConfigError) as caught:
        build_plugins(settings(plugins={"echo": {"prefx": "x"}}), {"echo": echo_provider})
    assert "<test config>: plugins.echo.prefx: unknown key" in caught.value.problems


def test_settings_for_a_plugin_without_a_model_are_rejected() -> None:
    with pytest.raises(ConfigError, match="this plugin takes no settings"):
        build_plugins(settings(plugins={"openai": {"colour": "blue"}}))


def test_provider_keys_are_validated_against_the_adapter_model() -> None:
    bad = {
        "name": "m",
        "deployments": [{"provider": "openai", "model": "x", "base_url": "ftp://x"}],
    }
    with pytest.raises(ConfigError) as caught:
        check_settings(settings(models=[bad]))
    assert any(
        p.startswith("<test config>: models[0].deployments[0].base_url:")
        for p in caught.value.problems
    )
    missing = {"name": "m", "deployments": [{"provider": "openai"}]}
    with pytest.raises(ConfigError) as caught:
        check_settings(settings(models=[missing]))
    assert "<test config>: models[0].deployments[0].model: required key is missing" in (
        caught.value.problems
    )


def test_lifecycle_hooks_may_return_awaitables_and_routes_are_added(tmp_path: Path) -> None:
    async_lifecycle.EVENTS.clear()
    database = {"sqlite_path": str(tmp_path / "gateway.sqlite3")}
    app = create_app(settings(database=database), extra_plugins={"lifecycle": async_lifecycle})
    assert any(route.path == "probe/lifecycle" for route in app.router.routes)

    async def cycle() -> None:
        await app.ctx.gateway.start(app)
        assert async_lifecycle.EVENTS == ["started"]
        await app.ctx.gateway.stop(app)

    asyncio.run(cycle())
    assert async_lifecycle.EVENTS == ["started", "stopped"]


def test_every_hookspec_is_documented() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()
    names = [name for name in dir(hookspecs) if name.startswith("gateway_")]
    assert names, "hookspecs found"
    for name in names:
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"
        assert f"`{name}(" in docs, f"{name} is missing from docs/plugins.md"


def write_config(directory: Path, config: dict) -> Path:
    path = directory / "router.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
def test_installed_plugin_serves_requests_and_disabling_removes_it(
    tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    site = install_echo_entry_point(tmp_path / "site")
    config = {
        "auth": {"master_key": MASTER_KEY},
        "plugins": {"echo": {"prefix": "heard: "}},
        "models": [
            ECHO_MODEL,
            {"name": "demo", "deployments": [deployment(mock_upstream.base_url())]},
        ],
    }
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    gateway = GatewayProcess(config, tmp_path, env=env)
    try:
        client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)
        reply = client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": "ping"}]
        )
        assert reply.choices[0].message.content == "heard: ping"
        streamed = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model="echo-model", messages=[{"role": "user", "content": "a b"}], stream=True
            )
        )
        assert streamed == "heard: a b "
    finally:
        gateway.stop()

    write_config(tmp_path, config)
    listing = cli("plugins", "list", cwd=tmp_path, pythonpath=site)
    assert listing.returncode == 0, listing.stderr
    echo_row = next(line for line in listing.stdout.splitlines() if line.startswith("echo "))
    assert "1.2.3" in echo_row and " yes " in echo_row and "providers: echo" in echo_row

    config["plugins"] = {"echo": False}
    write_config(tmp_path, config)
    check = cli("config", "check", cwd=tmp_path, pythonpath=site)
    assert check.returncode == 2
    assert "Unknown provider type 'echo' for model 'echo-model'. Available: openai" in check.stderr
    listing = cli("plugins", "list", cwd=tmp_path, pythonpath=site)
    echo_row = next(line for line in listing.stdout.splitlines() if line.startswith("echo "))
    assert " no " in echo_row


def test_config_check_reports_success(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    write_config(
        tmp_path,
        {
            "auth": {"master_key": MASTER_KEY},
            "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())] * 2}],
        },
    )
    result = cli("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK (1 models, 2 deployments" in result.stdout


def test_example_configs_validate() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        result = cli("config", "check", "--config", str(path), cwd=ROOT)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
