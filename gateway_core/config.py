"""Settings: YAML file, ``.env`` overlay, ``${VAR}`` interpolation and environment overrides.

Configuration flows one way: the YAML is read, ``${VAR}`` references are resolved (a missing
variable is an error, never an empty value), the variables of the original design override their
keys, and the result is validated into :class:`Settings`. Plugin-specific parts (a deployment's
provider keys, a plugin's own section) are validated later against the models the plugins
declare, by :mod:`gateway_core.plugins`, with the same error format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway_core.durations import parse_duration

CONFIG_ENV = "GATEWAY_CONFIG"
DEFAULT_CONFIG_FILES = ("router.yaml", "config/router.yaml")

Duration = Annotated[float, BeforeValidator(parse_duration)]


class ConfigError(Exception):
    """Configuration that cannot be served; ``problems`` holds one line per mistake."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    graceful_shutdown: Duration = 30.0
    keep_alive_timeout: Duration = 75.0
    response_timeout: Duration = 900.0
    access_log: bool = False


class Timeouts(_Strict):
    """Upstream timeouts in seconds.

    ``first_byte`` bounds the wait for the response to start (for a stream: its first event),
    ``read`` the wait for each following piece, ``total`` the whole exchange.
    """

    connect: Duration = 5.0
    first_byte: Duration | None = None
    read: Duration = 600.0
    total: Duration | None = 900.0


class AuthSettings(_Strict):
    master_key: SecretStr | None = None
    disabled: bool = False
    methods: list[str] = Field(
        default_factory=lambda: ["master_key", "virtual_key", "admin_session"]
    )
    key_secret: SecretStr | None = None
    key_cache_ttl: Duration | None = None

    @field_validator("key_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the key secret must be at least 32 characters long")
        return value

    @field_validator("master_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("the master key must be at least 8 characters long")
        return value


def _word_list(value: object) -> object:
    """``"openid email"`` or ``"a.com,b.com"`` (as environment variables are written) -> a list."""
    if isinstance(value, str):
        return [word for word in re.split(r"[\s,]+", value) if word]
    return value


WordList = Annotated[list[str], BeforeValidator(_word_list)]


class AdminAuthSettings(_Strict):
    """Signing admins in: sessions, and the switches of the sign-in plugins (docs/admin-auth.md).

    The keys mirror the original design's ``ADMIN_*`` variables, so that the same variables
    configure both; the sign-in plugins read them from here and never from the environment.
    """

    session_jwt_secret: SecretStr | None = None
    session_access_token_ttl: Duration = 900.0
    session_refresh_token_ttl: Duration = 86400.0
    session_cookie_name: str = Field("og_admin_session", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    local_enabled: bool = True
    oidc_enabled: bool = False
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_url: str | None = None
    oidc_scopes: WordList = Field(default_factory=lambda: ["openid", "email", "profile"])
    oidc_allowed_domains: WordList = Field(default_factory=list)

    @field_validator("session_jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the session secret must be at least 32 characters long")
        return value

    @field_validator("session_access_token_ttl", "session_refresh_token_ttl")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < 1:
            raise ValueError("a token lifetime must be at least one second")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> AdminAuthSettings:
        if not self.oidc_enabled:
            return self
        required = ("oidc_issuer", "oidc_client_id", "oidc_client_secret", "oidc_redirect_url")
        missing = [name for name in required if getattr(self, name) is None]
        if not self.oidc_allowed_domains:
            missing.append("oidc_allowed_domains")
        if missing:
            raise ValueError(f"oidc_enabled is true but {', '.join(missing)} is not set")
        if "openid" not in self.oidc_scopes:
            raise ValueError("oidc_scopes must include 'openid'")
        return self


class DatabaseSettings(_Strict):
    url: SecretStr | None = None
    run_migrations: bool = True
    migrations_dir: str = "./migrations"
    max_conns: int = Field(10, ge=1)
    min_conns: int = Field(1, ge=0)
    max_conn_idle_time: Duration = 1800.0
    max_conn_lifetime: Duration = 3600.0
    sqlite_path: str = "gateway.sqlite3"

    @model_validator(mode="after")
    def _pool_bounds(self) -> DatabaseSettings:
        if self.min_conns > self.max_conns:
            raise ValueError(
                f"min_conns ({self.min_conns}) cannot exceed max_conns ({self.max_conns})"
            )
        return self

    def effective_url(self) -> str:
        """The database to open: the configured URL, else the embedded SQLite file."""
        if self.url is not None:
            return self.url.get_secret_value()
        return f"sqlite://{self.sqlite_path}"


class RedisSettings(_Strict):
    url: SecretStr | None = None
    db: int = Field(0, ge=0)
    pool_size: int | None = Field(None, ge=1)

    @property
    def enabled(self) -> bool:
        return self.url is not None


class LimitRule(BaseModel):
    """One limit: a strategy counted per scope (``key``, ``team``, ``model``, ``deployment``,
    ``global``).

    Keys not declared here are the strategy's own options (a budget's ``period``...), validated
    against its ``config_model`` when the limits engine is built.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    strategy: str
    scope: Literal["key", "team", "model", "deployment", "global"]
    limit: Decimal | None = Field(None, ge=0)
    models: list[str] = Field(default_factory=list)

    def strategy_options(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class LimitDefaults(_Strict):
    default_rpm: int | None = Field(None, ge=0)
    default_tpm: int | None = Field(None, ge=0)
    rules: list[LimitRule] = Field(default_factory=list)
    failure_mode: Literal["open", "closed"] = "open"
    timeout: Duration = Field(0.5, gt=0)
    lease_ttl: Duration = Field(30.0, gt=0)
    default_max_tokens: int = Field(4096, ge=1)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class DeploymentLimits(_Strict):
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)
    parallel: int | None = Field(None, ge=0)


class PriceSettings(_Strict):
    """USD per million tokens; overrides the built-in price table for one deployment."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(Decimal(0), ge=0)
    cached_input: Decimal | None = Field(None, ge=0)


class DeploymentConfig(BaseModel):
    """One upstream serving a public model.

    ``provider`` picks the adapter; every key not declared here is the adapter's own and is
    validated against its ``config_model`` once plugins are loaded.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    provider: str
    id: str | None = None
    weight: float = Field(1.0, ge=0)
    priority: int | None = None
    timeouts: Timeouts | None = None
    limits: DeploymentLimits | None = None
    price: PriceSettings | None = None

    def provider_options(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class BreakerSettings(_Strict):
    """When a deployment's circuit opens, and for how long."""

    consecutive_failures: int = Field(5, ge=1)
    failure_rate: float = Field(0.5, gt=0, le=1)
    window: Duration = 60.0
    min_requests: int = Field(10, ge=1)
    cooldown: Duration = 30.0


class RoutingSettings(_Strict):
    strategy: str = "weighted"
    max_attempts: int = Field(3, ge=1, le=20)
    backoff_initial: Duration = 0.05
    backoff_max: Duration = 1.0
    deadline: Duration | None = None
    deadline_header: str = "x-gateway-timeout"
    latency_smoothing: float = Field(0.2, gt=0, le=1)
    circuit_breaker: BreakerSettings = Field(default_factory=BreakerSettings)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    deployments: list[DeploymentConfig] = Field(min_length=1)
    owned_by: str = "gateway"
    strategy: str | None = None
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int | None = Field(None, ge=1, le=20)
    fallbacks: list[str] = Field(default_factory=list)
    context_window_fallbacks: list[str] = Field(default_factory=list)
    content_policy_fallbacks: list[str] = Field(default_factory=list)

    def all_fallbacks(self) -> list[tuple[str, str]]:
        """(key, model name) for every fallback reference, for validation messages."""
        return [
            (key, name)
            for key in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
            for name in getattr(self, key)
        ]


class SinkConfig(BaseModel):
    """One usage sink: ``type`` picks the class, the other keys are its own settings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    def options(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class UsageSettings(_Strict):
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: [SinkConfig(type="database"), SinkConfig(type="prometheus")]
    )
    queue_size: int = Field(10_000, ge=1)
    batch_size: int = Field(200, ge=1)
    flush_interval: Duration = 0.2
    write_timeout: Duration = 5.0
    replay_interval: Duration = 5.0
    spool_dir: str = "usage-spool"


class BatchSettings(_Strict):
    """The Files and Batches API and its worker (see docs/batches.md)."""

    storage: str = "local"
    storage_dir: str = "batch-files"
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1)
    worker_concurrency: int = Field(4, ge=1, le=256)
    lease_duration: Duration = Field(300.0, gt=0)
    poll_interval: Duration = Field(1.0, gt=0)
    in_process_worker: bool = True


class PluginEntry(_Strict):
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


def _normalise_plugins(value: object) -> object:
    """Accept ``[azure, vertex]`` or ``{azure: true, vertex: {project: x}, openai: false}``."""
    if value is None:
        return {}
    if isinstance(value, list):
        if not all(isinstance(name, str) for name in value):
            raise ValueError("a list of plugins must contain plugin names only")
        return {name: {"enabled": True} for name in value}
    if isinstance(value, dict):
        entries: dict[str, object] = {}
        for name, entry in value.items():
            if isinstance(entry, bool):
                entries[name] = {"enabled": entry}
            elif entry is None:
                entries[name] = {"enabled": True}
            elif isinstance(entry, dict):
                entry = dict(entry)
                enabled = entry.pop("enabled", True)
                entries[name] = {"enabled": enabled, "config": entry}
            else:
                raise ValueError(
                    f"plugin {name!r} must be true, false or a mapping of its settings"
                )
        return entries
    raise ValueError("expected a list of plugin names or a mapping of name to settings")


class Settings(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    admin: AdminAuthSettings = Field(default_factory=AdminAuthSettings)
    upstream_timeouts: Timeouts = Field(default_factory=Timeouts)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    limits: LimitDefaults = Field(default_factory=LimitDefaults)
    usage: UsageSettings = Field(default_factory=UsageSettings)
    batches: BatchSettings = Field(default_factory=BatchSettings)
    plugins: Annotated[dict[str, PluginEntry], BeforeValidator(_normalise_plugins)] = Field(
        default_factory=dict
    )
    models: list[ModelConfig] = Field(default_factory=list)
    #: Where these settings came from, for messages; not a YAML key.
    source: str = Field("<defaults>", exclude=True)
    _plugin_configs: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: set[str] = set()
        for model in models:
            if model.name in seen:
                raise ValueError(f"model name {model.name!r} is configured twice")
            seen.add(model.name)
        for model in models:
            for key, target in model.all_fallbacks():
                if target == model.name:
                    raise ValueError(f"model {model.name!r} lists itself in {key}")
                if target not in seen:
                    known = ", ".join(sorted(seen))
                    raise ValueError(
                        f"model {model.name!r} has {key} entry {target!r}, which is not a "
                        f"configured model. Configured: {known}"
                    )
        return models

    def plugin_enabled(self, name: str) -> bool:
        entry = self.plugins.get(name)
        return entry is None or entry.enabled

    def plugin_config(self, name: str) -> Any:
        """The validated section of plugin ``name``, once the plugin loader has checked it.

        ``None`` for a plugin that declares no settings model.
        """
        return self._plugin_configs.get(name)

    def attach_plugin_configs(self, configs: Mapping[str, Any]) -> None:
        """Record the validated plugin sections (called once by the plugin loader)."""
        self._plugin_configs.update(configs)


# Environment variables of the original design and the key each one overrides.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "ROUTER_DB_URL": ("database", "url"),
    "ROUTER_REDIS_URL": ("redis", "url"),
    "DEFAULT_RPM": ("limits", "default_rpm"),
    "DEFAULT_TPM": ("limits", "default_tpm"),
    "DATABASE_RUN_MIGRATIONS": ("database", "run_migrations"),
    "DATABASE_MIGRATIONS_DIR": ("database", "migrations_dir"),
    "DATABASE_MAX_CONNS": ("database", "max_conns"),
    "DATABASE_MIN_CONNS": ("database", "min_conns"),
    "DATABASE_MAX_CONN_IDLE_TIME": ("database", "max_conn_idle_time"),
    "DATABASE_MAX_CONN_LIFETIME": ("database", "max_conn_lifetime"),
    "REDIS_DB": ("redis", "db"),
    "REDIS_POOL_SIZE": ("redis", "pool_size"),
    "GATEWAY_MASTER_KEY": ("auth", "master_key"),
    "GATEWAY_KEY_SECRET": ("auth", "key_secret"),
    "ADMIN_SESSION_JWT_SECRET": ("admin", "session_jwt_secret"),
    "ADMIN_SESSION_ACCESS_TOKEN_TTL": ("admin", "session_access_token_ttl"),
    "ADMIN_SESSION_REFRESH_TOKEN_TTL": ("admin", "session_refresh_token_ttl"),
    "ADMIN_SESSION_COOKIE_NAME": ("admin", "session_cookie_name"),
    "ADMIN_LOCAL_ENABLED": ("admin", "local_enabled"),
    "ADMIN_OIDC_ENABLED": ("admin", "oidc_enabled"),
    "ADMIN_OIDC_ISSUER": ("admin", "oidc_issuer"),
    "ADMIN_OIDC_CLIENT_ID": ("admin", "oidc_client_id"),
    "ADMIN_OIDC_CLIENT_SECRET": ("admin", "oidc_client_secret"),
    "ADMIN_OIDC_REDIRECT_URL": ("admin", "oidc_redirect_url"),
    "ADMIN_OIDC_SCOPES": ("admin", "oidc_scopes"),
    "ADMIN_OIDC_ALLOWED_DOMAINS": ("admin", "oidc_allowed_domains"),
}

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def find_config_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """Pick the config file: ``--config``, then ``GATEWAY_CONFIG``, then the default names."""
    chosen = explicit or environ.get(CONFIG_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            origin = "--config" if explicit else CONFIG_ENV
            raise ConfigError([f"{path}: config file not found (named by {origin})"])
        return path
    for candidate in DEFAULT_CONFIG_FILES:
        path = Path(candidate)
        if path.is_file():
            return path
    looked = ", ".join(DEFAULT_CONFIG_FILES)
    raise ConfigError(
        [
            f"no config file found (looked for {looked} in {Path.cwd()}); pass --config or set "
            f"{CONFIG_ENV}"
        ]
    )


def build_environment(
    config_path: Path | None, environ: Mapping[str, str] | None
) -> dict[str, str]:
    """The variables visible to the config: ``.env`` files first, the real environment on top."""
    merged: dict[str, str] = {}
    candidates = [Path.cwd() / ".env"]
    if config_path is not None:
        candidates.insert(0, config_path.resolve().parent / ".env")
    for dotenv in dict.fromkeys(candidates):
        if dotenv.is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def interpolate(value: Any, env: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string; ``$$`` is a literal ``$``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{path}: environment variable {name} is not set")
            return ""

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, _join(path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Write the original design's variables into ``raw``; returns key path -> variable name."""
    origins: dict[str, str] = {}
    for variable, (section, key) in ENV_OVERRIDES.items():
        value = env.get(variable)
        if value is None or value == "":
            continue
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            continue  # the section itself is malformed; validation reports it
        target[key] = value
        origins[f"{section}.{key}"] = variable
    return origins


def format_location(loc: tuple[Any, ...], prefix: str = "") -> str:
    """``("models", 0, "name")`` -> ``models[0].name``, below ``prefix`` when one is given."""
    text = prefix
    for part in loc:
        text = f"{text}[{part}]" if isinstance(part, int) else _join(text, str(part))
    return text or "<root>"


def describe_validation_error(
    error: ValidationError, source: str, prefix: str = "", origins: Mapping[str, str] | None = None
) -> list[str]:
    """One line per problem: where (file, key path, variable) and what was expected.

    Input values are never echoed: they may be secrets.
    """
    lines = []
    for item in error.errors():
        loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        key = format_location(loc, prefix)
        via = (origins or {}).get(key)
        where = f"{source}: {key}" + (f" (from environment variable {via})" if via else "")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{where}: {message}")
    return lines


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Find, read, interpolate, override and validate the configuration."""
    env_for_lookup = os.environ if environ is None else environ
    config_path = find_config_file(path, env_for_lookup)
    env = build_environment(config_path, environ)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{config_path}: cannot read ({exc.strerror})"]) from None
    return settings_from_text(text, str(config_path), env)


def settings_from_text(text: str, source: str, env: Mapping[str, str]) -> Settings:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{where}: {problem}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of settings"])
    problems: list[str] = []
    raw = interpolate(raw, env, "", problems)
    if problems:
        raise ConfigError([f"{source}: {line}" for line in problems])
    origins = apply_env_overrides(raw, env)
    try:
        return Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source, origins=origins)) from None
