"""docs/writing-a-provider-plugin.md describes what the code accepts and offers."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel

from gateway_core.builtins.openai_provider import OpenAIAdapter
from gateway_core.contract import (
    ClientRequest,
    ContractCase,
    ExpectedError,
    ExpectedToolCall,
    Outcome,
    RequestExpectation,
    StreamReply,
    UpstreamReply,
)
from gateway_core.contract.exchanges import Exchange
from tests.conftest import ROOT

GUIDE = (ROOT / "docs" / "writing-a-provider-plugin.md").read_text()
FIXTURE_MODELS: list[type[BaseModel]] = [
    ContractCase,
    ClientRequest,
    Exchange,
    RequestExpectation,
    UpstreamReply,
    StreamReply,
    Outcome,
    ExpectedError,
    ExpectedToolCall,
]


def spelled(model: type[BaseModel]) -> list[str]:
    """The keys as a fixture file spells them (aliases where there are any)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def test_every_fixture_key_is_documented() -> None:
    missing = [
        f"{model.__name__}.{key}"
        for model in FIXTURE_MODELS
        for key in spelled(model)
        if f"`{key}`" not in GUIDE
    ]
    assert not missing, f"fixture keys missing from the guide: {missing}"


def test_every_extension_point_in_the_table_exists() -> None:
    table = re.findall(r"^\| `(\w+)\(", GUIDE, flags=re.MULTILINE)
    assert len(table) == 8
    assert all(callable(getattr(OpenAIAdapter, name, None)) for name in table), table


def test_the_example_case_is_a_valid_case() -> None:
    example = next(
        block
        for block in re.findall(r"```yaml\n(.*?)```", GUIDE, flags=re.DOTALL)
        if "upstream:" in block
    )
    case = ContractCase.model_validate({**yaml.safe_load(example), "name": "example"})
    assert case.upstream[0].request.path == "/v2/generate"
