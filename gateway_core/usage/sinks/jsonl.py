"""Usage events appended to one JSON-lines file per UTC day, with old files removed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateway_core.api import UsageEvent, UsageSink
from gateway_core.usage.events import encode_events


class JsonlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str = "usage-logs"
    #: Files older than this many days are deleted (0 keeps everything).
    keep_days: int = Field(30, ge=0)


class JsonlSink(UsageSink):
    type_name = "jsonl"
    config_model = JsonlConfig

    def __init__(self, config: JsonlConfig) -> None:
        super().__init__(config)
        self.directory = Path(config.directory)

    def path_for(self, timestamp: float) -> Path:
        day = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
        return self.directory / f"usage-{day}.jsonl"

    async def write(self, events: Sequence[UsageEvent]) -> None:
        await asyncio.to_thread(self._append, list(events))

    def _append(self, events: list[UsageEvent]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        by_file: dict[Path, list[UsageEvent]] = {}
        for event in events:
            by_file.setdefault(self.path_for(event.timestamp), []).append(event)
        for path, batch in by_file.items():
            with path.open("ab") as handle:
                handle.write(encode_events(batch))
        self._remove_old()

    def _remove_old(self) -> None:
        if not self.config.keep_days:
            return
        cutoff = time.time() - self.config.keep_days * 86400
        for path in self.directory.glob("usage-*.jsonl"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
