"""Building the usage recorder from settings: sinks validated like every plugin class."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway_core.config import ConfigError, Settings
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
        configured = registries.usage_sinks.configure(
            entry.type,
            entry.options(),
            source=settings.source,
            type_key=f"{where}.type",
            options_key=where,
            problems=problems,
        )
        if configured is not None:
            specs.append(SinkSpec(f"{index}-{entry.type}", *configured))
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
