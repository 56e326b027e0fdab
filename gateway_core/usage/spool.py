"""A durable local spool for events a sink could not take yet.

Batches are appended to files (flushed and fsynced) in a directory per sink. Replaying claims a
file by renaming it, so that of several workers or instances sharing the directory exactly one
replays it; a file is deleted only after the sink accepted all of it. Together with a sink that
ignores a request id it already has (the database sink), nothing is lost and nothing counts
twice.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

from gateway_core.api import UsageEvent
from gateway_core.usage.events import decode_events, encode_events

log = logging.getLogger("gateway.usage")
CLAIMED = ".claimed"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sequence = itertools.count()
        self._pid = os.getpid()

    def _file(self) -> Path:
        return self.directory / f"spool-{self._pid}-{next(self._sequence):08d}.jsonl"

    def append(self, events: list[UsageEvent]) -> None:
        """Write ``events`` durably (a new file per batch, so replay never sees half of one)."""
        if not events:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._file()
        partial = path.with_suffix(".partial")
        with partial.open("wb") as handle:
            handle.write(encode_events(events))
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(path)
        log.warning("spooled %d usage events to %s", len(events), path)

    def pending(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("spool-*.jsonl"))

    def claim(self, path: Path) -> Path | None:
        """Take ``path`` for replay; ``None`` if another worker took it first."""
        claimed = path.with_name(path.name + f"{CLAIMED}-{self._pid}")
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        return claimed

    @staticmethod
    def read(path: Path) -> list[UsageEvent]:
        return decode_events(path.read_bytes())

    @staticmethod
    def release(claimed: Path) -> None:
        """Put a claimed file back (its replay failed) for a later attempt."""
        original = claimed.name.split(CLAIMED, 1)[0]
        claimed.rename(claimed.with_name(original))

    def recover_claims(self) -> None:
        """Files claimed by a process that died are returned to the queue at start-up."""
        if not self.directory.is_dir():
            return
        for claimed in self.directory.glob(f"spool-*.jsonl{CLAIMED}-*"):
            owner = int(claimed.name.rsplit("-", 1)[1])
            if owner == self._pid or not _alive(owner):
                self.release(claimed)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
