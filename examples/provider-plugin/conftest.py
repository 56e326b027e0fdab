"""Where this plugin's tests are collected, and where they are not.

Run on their own (`pytest` in this folder, pytest's rootdir here), every test runs. When the
gateway repository's whole suite walks into examples/, the plugin is not installed there, so its
tests are skipped from collection on purpose: the repository's
tests/test_provider_template.py installs this folder into a fresh virtual environment and runs
them there instead. A copy of this folder is always its own rootdir, so there this hook does
nothing; delete it when you copy the template if you like.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.rootpath != HERE and collection_path == HERE / "tests":
        return True
    return None
