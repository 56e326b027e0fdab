"""Test helpers shipped with the gateway, for the core's tests and for plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin's test suite gets the
fixtures below with no import: ``gateway_process`` starts a real gateway on a free loopback
port from a config mapping and stops it afterwards; ``contract_kit`` starts the provider
contract kit (:mod:`gateway_core.contract`, re-exported here). Everything here talks real HTTP.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gateway_core.config import Settings, settings_from_text

if TYPE_CHECKING:
    from gateway_core.contract import ContractKit

# The contract kit's names, loaded on first use: this module is a pytest plugin that loads in
# every test run, and the kit brings aiohttp's server and the SDK client along.
CONTRACT_NAMES = frozenset(
    {
        "CaseResult",
        "ClientRequest",
        "ContractCase",
        "ContractKit",
        "ContractViolation",
        "Exchange",
        "ExpectedError",
        "ExpectedToolCall",
        "Outcome",
        "ReceivedRequest",
        "ReplayUpstream",
        "RequestExpectation",
        "StreamReply",
        "UpstreamReply",
        "load_case",
        "load_cases",
    }
)

__all__ = [
    "GatewayProcess",
    "contract_kit",
    "free_port",
    "gateway_process",
    "settings_from_mapping",
    "wait_for_http",
    *sorted(CONTRACT_NAMES),
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(
    url: str, timeout: float = 20.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error!r}")


def settings_from_mapping(
    config: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> Settings:
    """Validate a config given as a mapping, exactly as if it were read from a YAML file."""
    return settings_from_text(yaml.safe_dump(dict(config)), "<test config>", env or {})


class GatewayProcess:
    """A ``gateway serve`` child process with its own config file and port."""

    def __init__(
        self,
        config: Mapping[str, Any],
        directory: Path,
        *,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = directory / f"gateway-{self.port}.yaml"
        server = {**config.get("server", {}), "host": "127.0.0.1", "port": self.port}
        self.config_path.write_text(yaml.safe_dump({**config, "server": server}))
        self.log_path = directory / f"gateway-{self.port}.log"
        self._log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "gateway_core.cli",
            "serve",
            "--config",
            str(self.config_path),
            "--workers",
            str(workers),
        ]
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            # Relative paths in the config (the SQLite file) stay in the test's folder.
            cwd=directory,
            start_new_session=True,
        )
        try:
            wait_for_http(f"{self.base_url}/healthz", startup_timeout, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(f"gateway did not start; its log:\n{self.log()}") from None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        """Send SIGTERM, as an orchestrator would, without waiting."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateways from config mappings: ``gateway_process({"models": [...]}, workers=2)``."""
    started: list[GatewayProcess] = []

    def start(config: Mapping[str, Any], **kwargs: Any) -> GatewayProcess:
        process = GatewayProcess(config, tmp_path, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def contract_kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ContractKit]]:
    """Start contract kits for a test module: ``contract_kit(plugins=[...], deployments={...},
    cases=load_cases(FIXTURES))``; each is stopped when the module's tests are done."""
    from gateway_core.contract import ContractKit

    started: list[ContractKit] = []

    def start(**options: Any) -> ContractKit:
        kit = ContractKit(directory=tmp_path_factory.mktemp("contract"), **options)
        started.append(kit.start())
        return kit

    yield start
    for kit in started:
        kit.stop()


def __getattr__(name: str) -> Any:
    if name in CONTRACT_NAMES:
        import gateway_core.contract

        return getattr(gateway_core.contract, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
