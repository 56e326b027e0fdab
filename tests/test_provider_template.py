"""The copy-me provider plugin works where a third party would use it: an environment of its own.

A copy of examples/provider-plugin is installed (a plain install, not editable) into a fresh
virtual environment, which sees this project's packages through a ``.pth`` file: nothing is
downloaded. There the gateway must discover the plugin, the template's own three tests must
pass (they serve requests through a real gateway), and disabling the plugin must remove it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

TEMPLATE = ROOT / "examples" / "provider-plugin"
LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".pytest_cache")
INSTALL = ["install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]


class FreshVenv:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.plugin = base / "gateway-acme"
        shutil.copytree(TEMPLATE, self.plugin, ignore=LEFTOVERS)
        directory = base / "venv"
        # No pip of its own: Python 3.11 would bundle a setuptools too old for this pyproject.
        self.run(sys.executable, "-m", "venv", "--without-pip", str(directory))
        self.python = str(directory / "bin" / "python")
        where = "import sysconfig; print(sysconfig.get_path('purelib'))"
        purelib = Path(self.run(self.python, "-c", where).strip())
        ours = sysconfig.get_path("purelib")
        (purelib / "gateway_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        self.run(self.python, "-m", "pip", *INSTALL, str(self.plugin))

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, cwd=self.base, capture_output=True, text=True, timeout=300, check=False
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise AssertionError(f"{command} failed ({done.returncode}):\n{output}")
        return output

    def gateway(
        self, *args: str, plugins: object, models: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a ``gateway`` command in the venv, with a config that enables ``plugins``."""
        config: dict[str, object] = {"auth": {"master_key": "sk-test-12345678"}, "plugins": plugins}
        if models:
            deployment = {"provider": "acme", "model": "acme-small-2", "api_key": "k"}
            config["models"] = [{"name": "acme-small", "deployments": [deployment]}]
        path = self.base / "router.yaml"
        path.write_text(yaml.safe_dump(config))
        return subprocess.run(
            [self.python, "-m", "gateway_core.cli", *args, "--config", str(path)],
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    return FreshVenv(tmp_path_factory.mktemp("template"))


def plugin_row(listing: str, name: str) -> list[str]:
    return next(line.split() for line in listing.splitlines() if line.startswith(f"{name} "))


def test_the_installed_package_is_the_one_imported(venv: FreshVenv) -> None:
    where = venv.run(venv.python, "-c", "import gateway_acme; print(gateway_acme.__file__)")
    assert "/venv/lib/" in where and "site-packages/gateway_acme/__init__.py" in where


def test_the_gateway_discovers_the_plugin(venv: FreshVenv) -> None:
    listing = venv.gateway("plugins", "list", plugins=["acme"])
    assert listing.returncode == 0, listing.stderr
    row = plugin_row(listing.stdout, "acme")
    assert row[:4] == ["acme", "0.1.0", "gateway-acme", "yes"]
    assert "providers:" in row and row[-1] == "acme"
    assert venv.gateway("config", "check", plugins=["acme"]).returncode == 0


def test_the_templates_own_tests_pass_there(venv: FreshVenv) -> None:
    # Run from outside the copy: the gateway each test starts loads the installed package.
    output = venv.run(
        venv.python, "-m", "pytest", str(venv.plugin / "tests"), "-p", "no:cacheprovider", "-v"
    )
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary, output
    assert not any(word in summary for word in ("failed", "error", "skipped")), output
    for module in ("test_installed", "test_config", "test_integration"):
        assert f"tests/{module}.py::" in output, f"{module} did not run"


def test_disabling_the_plugin_removes_it(venv: FreshVenv) -> None:
    checked = venv.gateway("config", "check", plugins={"acme": False})
    assert checked.returncode == 2
    assert "Unknown provider type 'acme' for model 'acme-small'" in checked.stderr
    listing = venv.gateway("plugins", "list", plugins={"acme": False}, models=False)
    assert listing.returncode == 0, listing.stderr
    assert plugin_row(listing.stdout, "acme")[3] == "no"
