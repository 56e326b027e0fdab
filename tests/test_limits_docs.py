"""docs/limits.md describes what the code does: its examples run, its lists are complete."""

from __future__ import annotations

import re
from types import SimpleNamespace

import yaml

from gateway_core.builtins import limit_strategies
from gateway_core.gateway import Gateway
from gateway_core.limits.engine import StrategyLimitsEngine
from gateway_core.limits.stats import LimitStats
from gateway_core.metrics import LimitsCollector
from gateway_core.testing import settings_from_mapping
from tests.conftest import MASTER_KEY, ROOT

DOC = (ROOT / "docs" / "limits.md").read_text()
PLUGIN = ROOT / "tests" / "plugins" / "end_user_limits.py"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_example_strategy_is_the_tested_plugin() -> None:
    (example,) = [block for block in blocks("python") if "class EndUserDailyRequests" in block]
    source = PLUGIN.read_text()
    assert example.strip() == source[source.index("from pydantic") :].strip()


def test_the_first_example_config_builds_an_engine() -> None:
    config = yaml.safe_load(blocks("yaml")[0])
    gateway = Gateway(settings_from_mapping({"auth": {"master_key": MASTER_KEY}, **config}))
    assert isinstance(gateway.limits, StrategyLimitsEngine)
    scopes = {(rule.strategy.type_name, rule.scope) for rule in gateway.limits.rules}
    assert {
        ("rpm", "global"),
        ("parallel", "model"),
        ("budget", "team"),
        ("tpm", "deployment"),
    } <= (scopes)


def test_every_builtin_strategy_and_metric_is_documented() -> None:
    names = [
        cls.type_name
        for cls in vars(limit_strategies).values()
        if isinstance(cls, type) and getattr(cls, "type_name", "")
    ]
    assert sorted(names) == ["budget", "parallel", "rpm", "tpm"]
    assert all(f"| `{name}` |" in DOC for name in names)

    gateway = SimpleNamespace(limits=SimpleNamespace(stats=LimitStats()))
    metrics = [family.name for family in LimitsCollector(gateway).collect()]  # type: ignore[arg-type]
    assert metrics and all(f"`{name}_total" in DOC for name in metrics)
