"""Configuration loading: files, .env, ${VAR}, the original design's variables, error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.config import ENV_OVERRIDES, ConfigError, load_settings, settings_from_text
from gateway_core.durations import parse_duration

MINIMAL = """
auth: {master_key: "${KEY}"}
models:
  - name: demo
    deployments:
      - {provider: openai, model: m, base_url: "http://127.0.0.1:1/v1", api_key: "${UP_KEY:-none}"}
"""


def load(text: str, **env: str):
    return settings_from_text(text, "router.yaml", {"KEY": "sk-master-123", **env})


def problems(text: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(text, **env)
    return caught.value.problems


def test_defaults_are_embedded() -> None:
    settings = load("{}")
    assert settings.database.effective_url() == "sqlite://gateway.sqlite3"
    assert settings.redis.enabled is False
    assert settings.server.workers == 1
    assert settings.models == []


def test_interpolation_and_defaults() -> None:
    settings = load(MINIMAL, UP_KEY="sk-upstream")
    assert settings.auth.master_key.get_secret_value() == "sk-master-123"
    options = settings.models[0].deployments[0].provider_options()
    assert options["api_key"] == "sk-upstream"
    assert load(MINIMAL).models[0].deployments[0].provider_options()["api_key"] == "none"
    assert load('server: {host: "$${literal}"}').server.host == "${literal}"


def test_missing_variable_is_an_error_naming_key_and_variable() -> None:
    found = problems('auth: {master_key: "${NOT_SET_ANYWHERE}"}')
    assert found == [
        "router.yaml: auth.master_key: environment variable NOT_SET_ANYWHERE is not set"
    ]


def test_original_design_variables_override_the_file() -> None:
    env = {
        "ROUTER_DB_URL": "postgres://u:p@127.0.0.1:5432/gw",
        "ROUTER_REDIS_URL": "redis://127.0.0.1:6379/0",
        "DEFAULT_RPM": "600",
        "DEFAULT_TPM": "100000",
        "DATABASE_RUN_MIGRATIONS": "false",
        "DATABASE_MIGRATIONS_DIR": "/srv/migrations",
        "DATABASE_MAX_CONNS": "20",
        "DATABASE_MIN_CONNS": "2",
        "DATABASE_MAX_CONN_IDLE_TIME": "5m",
        "DATABASE_MAX_CONN_LIFETIME": "1h30m",
        "REDIS_DB": "3",
        "REDIS_POOL_SIZE": "50",
    }
    assert set(env) <= set(ENV_OVERRIDES)
    settings = load("database: {max_conns: 5}\nlimits: {default_rpm: 1}", **env)
    db, redis, limits = settings.database, settings.redis, settings.limits
    assert db.effective_url() == env["ROUTER_DB_URL"]
    assert redis.url.get_secret_value() == env["ROUTER_REDIS_URL"]
    assert (limits.default_rpm, limits.default_tpm) == (600, 100000)
    assert db.run_migrations is False and db.migrations_dir == "/srv/migrations"
    assert (db.max_conns, db.min_conns) == (20, 2)
    assert (db.max_conn_idle_time, db.max_conn_lifetime) == (300, 5400)
    assert (redis.db, redis.pool_size) == (3, 50)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DEFAULT_RPM", "lots", "limits.default_rpm (from environment variable DEFAULT_RPM)"),
        ("REDIS_POOL_SIZE", "0", "redis.pool_size (from environment variable REDIS_POOL_SIZE)"),
        (
            "DATABASE_MAX_CONN_IDLE_TIME",
            "5 minutes",
            "database.max_conn_idle_time (from environment variable DATABASE_MAX_CONN_IDLE_TIME)",
        ),
        ("DATABASE_RUN_MIGRATIONS", "perhaps", "database.run_migrations"),
    ],
)
def test_bad_variable_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    found = problems("{}", **{variable: value})
    assert len(found) == 1 and found[0].startswith(f"router.yaml: {expected}")


def test_errors_name_file_key_path_and_expectation_without_echoing_values() -> None:
    text = """
auth: {master_key: short}
server: {port: "eighty", colour: blue}
models:
  - name: demo
    deployments:
      - {provider: openai, weight: -1}
"""
    found = problems(text)
    assert any(p.startswith("router.yaml: auth.master_key:") and "8 characters" in p for p in found)
    assert any(p.startswith("router.yaml: server.port:") and "integer" in p for p in found)
    assert "router.yaml: server.colour: unknown key" in found
    assert any(p.startswith("router.yaml: models[0].deployments[0].weight:") for p in found)
    assert not any("short" in p or "eighty" in p for p in found)


def test_duplicate_model_names_are_rejected() -> None:
    text = "models:\n" + "  - {name: a, deployments: [{provider: openai}]}\n" * 2
    assert any("configured twice" in p for p in problems(text))


def test_yaml_syntax_error_has_line_and_column() -> None:
    found = problems("server:\n  port: [1, 2\n")
    assert found[0].startswith("router.yaml:3:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plugins: [azure, vertex]", {"azure": (True, {}), "vertex": (True, {})}),
        ("plugins: {azure: true, openai: false}", {"azure": (True, {}), "openai": (False, {})}),
        ("plugins: {vertex: {project: p1}}", {"vertex": (True, {"project": "p1"})}),
        ("plugins: {vertex: {enabled: false, project: p}}", {"vertex": (False, {"project": "p"})}),
    ],
)
def test_plugin_section_forms(text: str, expected: dict) -> None:
    plugins = load(text).plugins
    assert {name: (entry.enabled, entry.config) for name, entry in plugins.items()} == expected


def test_file_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no config file found"):
        load_settings(environ={})
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text("server: {port: 2}")
    assert load_settings(environ={}).server.port == 2
    (tmp_path / "router.yaml").write_text("server: {port: 1}")
    assert load_settings(environ={}).server.port == 1
    (tmp_path / "other.yaml").write_text("server: {port: 3}")
    assert load_settings(environ={"GATEWAY_CONFIG": "other.yaml"}).server.port == 3
    assert (
        load_settings("config/router.yaml", environ={"GATEWAY_CONFIG": "other.yaml"}).server.port
        == 2
    )
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        load_settings("missing.yaml", environ={})


def test_dotenv_overlay_loses_to_the_real_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "router.yaml").write_text('server: {host: "${BIND}"}\nlimits: {default_rpm: 1}')
    (tmp_path / ".env").write_text("BIND=0.0.0.0\nDEFAULT_RPM=77\n")
    settings = load_settings(environ={})
    assert settings.server.host == "0.0.0.0" and settings.limits.default_rpm == 77
    assert load_settings(environ={"BIND": "127.0.0.2"}).server.host == "127.0.0.2"


def test_secrets_are_not_in_the_repr() -> None:
    settings = load(MINIMAL, UP_KEY="sk-upstream-secret")
    assert "sk-master-123" not in repr(settings)
    assert "sk-master-123" not in str(settings.model_dump())


@given(
    hours=st.integers(0, 48),
    minutes=st.integers(0, 59),
    seconds=st.integers(0, 59),
    millis=st.integers(0, 999),
)
def test_durations_add_their_parts(hours: int, minutes: int, seconds: int, millis: int) -> None:
    text = f"{hours}h{minutes}m{seconds}s{millis}ms"
    expected = hours * 3600 + minutes * 60 + seconds + millis / 1000
    assert parse_duration(text) == pytest.approx(expected)
    assert parse_duration(str(expected)) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", "1x", "-3s", True, [1], "1h-2m"])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
