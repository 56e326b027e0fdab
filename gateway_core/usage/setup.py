"""Building the usage recorder from settings: sinks validated like every plugin class."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gateway_core.config import ConfigError, Settings, describe_validation_error
from gateway_core.registry import RegistryError
from gateway_core.usage.recorder import SinkWorker, UsageRecorder
from gateway_core.usage.spool import Spool

if TYPE_CHECKING:
    from gateway_core.api import UsageSink
    from gateway_core.plugins import Registries


@dataclass(frozen=True, slots=True)
class SinkSpec:
    name: str
    sink: type[UsageSink]
    config: Any


def resolve_sinks(settings: Settings, registries: Registries) -> list[SinkSpec]:
    problems: list[str] = []
    specs: list[SinkSpec] = []
    for index, entry in enumerate(settings.usage.sinks):
        where = f"usage.sinks[{index}]"
        try:
            sink = registries.usage_sinks.get(entry.type)
        except RegistryError as exc:
            problems.append(f"{settings.source}: {where}.type: {exc.message}")
            continue
        try:
            config = sink.config_model.model_validate(entry.options())
        except ValidationError as exc:
            problems += describe_validation_error(exc, settings.source, where)
            continue
        specs.append(SinkSpec(f"{index}-{entry.type}", sink, config))
    if problems:
        raise ConfigError(problems)
    return specs


def build_recorder(settings: Settings, specs: list[SinkSpec]) -> UsageRecorder:
    usage = settings.usage
    root = Path(usage.spool_dir)
    workers = [
        SinkWorker(
            spec.name,
            spec.sink(spec.config),
            Spool(root / spec.name),
            batch_size=usage.batch_size,
            flush_interval=usage.flush_interval,
            queue_size=usage.queue_size,
            write_timeout=usage.write_timeout,
            replay_interval=usage.replay_interval,
        )
        for spec in specs
    ]
    return UsageRecorder(workers)
