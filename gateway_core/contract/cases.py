"""Contract cases: a client request, the upstream exchanges it causes, and what the client gets.

A directory of fixture files holds one case per file (``*.yaml``, ``*.yml`` or ``*.json``),
named after the file. The format is described in docs/writing-a-provider-plugin.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway_core.config import describe_validation_error
from gateway_core.contract.exchanges import Exchange

_STRICT = ConfigDict(extra="forbid", frozen=True)
FIXTURE_SUFFIXES = (".yaml", ".yml", ".json")


class ClientRequest(BaseModel):
    """The OpenAI request a client sends; the kit fills in ``model``."""

    model_config = _STRICT

    operation: Literal["chat", "embeddings"] = "chat"
    body: dict[str, Any]

    @property
    def stream(self) -> bool:
        return self.operation == "chat" and self.body.get("stream") is True

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


class ExpectedError(BaseModel):
    """Fields of the error the client must get; only those given are compared."""

    model_config = _STRICT

    code: str | None = None
    type: str | None = None
    param: str | None = None
    message_contains: str | None = None


class ExpectedToolCall(BaseModel):
    model_config = _STRICT

    name: str
    arguments: Any = None  # compared as parsed JSON, when given
    id: str | None = None


class Outcome(BaseModel):
    """What the client must get back. Only the keys given are compared; the OpenAI contract
    itself (shapes, framing, usage arithmetic) is checked for every case regardless."""

    model_config = _STRICT

    status: int = 200
    content: str | None = None
    finish_reason: str | None = None
    tool_calls: list[ExpectedToolCall] | None = None
    usage: dict[str, Any] | None = None
    body: Any = None
    embeddings: int | None = None
    dimensions: int | None = None
    error: ExpectedError | None = None
    stream_error: ExpectedError | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class ContractCase(BaseModel):
    """``deployment`` names one of the kit's deployments (default: the first one)."""

    model_config = _STRICT

    name: str
    description: str = ""
    deployment: str | None = None
    send: ClientRequest
    upstream: list[Exchange] = Field(default_factory=list)
    expect: Outcome = Field(default_factory=Outcome)

    def __str__(self) -> str:
        return self.name


def load_case(path: Path) -> ContractCase:
    """Read one fixture file; a mistake raises ``ValueError`` naming the file and the key."""
    text = path.read_text()
    try:
        raw = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a contract case is a mapping at the top level")
    if "name" in raw:
        raise ValueError(f"{path}: name: a case is named after its file; remove the key")
    try:
        return ContractCase.model_validate({**raw, "name": path.stem})
    except ValidationError as exc:
        raise ValueError("\n".join(describe_validation_error(exc, str(path)))) from None


def load_cases(directory: str | Path) -> list[ContractCase]:
    """Every case in ``directory``, sorted by name; an empty directory is an error."""
    folder = Path(directory)
    paths = sorted(p for p in folder.iterdir() if p.suffix in FIXTURE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder}: no contract cases (*.yaml, *.yml, *.json) found")
    return [load_case(path) for path in paths]
