"""The ``gateway`` command: serve, inspect plugins, check configuration."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from typing import Any

from gateway_core import __version__
from gateway_core.batches.cli import add_batch_commands
from gateway_core.cli_admin import add_admin_commands
from gateway_core.cli_ops import add_operator_commands
from gateway_core.config import CONFIG_ENV, ConfigError, find_config_file, load_settings
from gateway_core.gateway import check_settings
from gateway_core.logs import configure_logging
from gateway_core.plugins import DEFAULT_PLUGINS, installed_entry_points


def _print_config_error(error: ConfigError) -> int:
    print("Configuration error:", file=sys.stderr)
    for line in error.problems:
        print(f"  - {line}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from gateway_core.app import load_app
    from gateway_core.metrics import enable_multiprocess_mode

    config_path = str(find_config_file(args.config, os.environ).resolve())
    settings = load_settings(config_path)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("workers", args.workers))
        if value is not None
    }
    server = settings.server.model_copy(update=overrides)
    check_settings(settings)  # fail here, once, with a readable message
    # Workers rebuild the app from the same file; pass the path so they read what we checked.
    os.environ[CONFIG_ENV] = config_path
    enable_multiprocess_mode()
    loader = AppLoader(factory=partial(load_app, config_path, overrides))
    app = loader.load()
    app.prepare(
        host=server.host,
        port=server.port,
        workers=server.workers,
        single_process=server.workers == 1,
        access_log=server.access_log,
        motd=False,
    )
    if server.workers == 1:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    plugins, models = check_settings(settings)
    deployments = sum(len(model.deployments) for model in models)
    print(
        f"{settings.source}: OK ({len(models)} models, {deployments} deployments, "
        f"plugins: {', '.join(plugins.names())})"
    )
    return 0


def cmd_plugins_list(args: argparse.Namespace) -> int:
    """Installed plugins, whether the config enables them, and what they provide."""
    loaded: dict[str, Any] = {}
    settings = None
    try:
        settings = load_settings(args.config)
        plugins, _ = check_settings(settings)
        loaded = {info.name: info for info in plugins.describe()}
    except ConfigError as exc:
        if args.config:
            raise
        print(f"(no usable config: {exc.problems[0]})", file=sys.stderr)
    names = sorted({*DEFAULT_PLUGINS, *installed_entry_points(), *loaded})
    rows = []
    for name in names:
        info = loaded.get(name)
        enabled = info is not None
        if info is None:
            version, origin = _describe_unloaded(name)
            hooks, registered = "-", "-"
        else:
            version, origin = info.version, info.origin
            hooks = ", ".join(h.removeprefix("gateway_") for h in info.hooks) or "-"
            registered = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.registered.items())
        rows.append((name, version, origin, "yes" if enabled else "no", hooks, registered or "-"))
    header = ("NAME", "VERSION", "FROM", "ENABLED", "HOOKS", "PROVIDES")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _describe_unloaded(name: str) -> tuple[str, str]:
    if name in DEFAULT_PLUGINS:
        return __version__, "builtin"
    entry = installed_entry_points()[name]
    dist = entry.dist
    return (dist.version, dist.name) if dist is not None else ("unknown", "local")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="OpenAI-compatible LLM gateway")
    parser.add_argument("--version", action="version", version=f"gateway-core {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--config", "-c", help=f"config file (default: ${CONFIG_ENV}, router.yaml)"
        )
        return sub

    serve = with_config(commands.add_parser("serve", help="run the gateway"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default from config: 1)")
    serve.set_defaults(handler=cmd_serve)

    plugins = commands.add_parser("plugins", help="inspect plugins")
    plugin_commands = plugins.add_subparsers(dest="plugins_command", required=True)
    listing = with_config(plugin_commands.add_parser("list", help="installed and enabled plugins"))
    listing.set_defaults(handler=cmd_plugins_list)

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = with_config(config_commands.add_parser("check", help="validate without serving"))
    check.set_defaults(handler=cmd_config_check)

    add_operator_commands(commands, with_config)
    add_admin_commands(commands, with_config)
    add_batch_commands(commands, with_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        return _print_config_error(exc)


if __name__ == "__main__":
    sys.exit(main())
