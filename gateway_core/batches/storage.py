"""Where file contents live. The database holds file metadata; a backend holds the bytes.

A backend is any object with the three coroutines of :class:`FileStorage`; plugins add one with
:func:`register_backend` and deployers choose it with ``batches.storage``. The default keeps
each file as one file in ``batches.storage_dir``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from gateway_core.config import BatchSettings, ConfigError

CHUNK = 64 * 1024


class FileStorage(Protocol):
    async def write(self, file_id: str, content: bytes) -> None:
        """Store ``content`` under ``file_id``, replacing any earlier content atomically."""

    def read(self, file_id: str) -> AsyncIterator[bytes]:
        """The content in chunks, for streaming to a client."""

    async def delete(self, file_id: str) -> None:
        """Forget the content; deleting a missing file is not an error."""


class LocalDirectoryStorage:
    """One file per id in a directory; writes go through a temporary file and a rename."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, file_id: str) -> Path:
        if not file_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"not a file id: {file_id!r}")
        return self.directory / file_id

    async def write(self, file_id: str, content: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(file_id), content)

    def _write(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_bytes(content)
        partial.replace(path)

    async def read(self, file_id: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(file_id).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, file_id: str) -> None:
        await asyncio.to_thread(self._path(file_id).unlink, True)


StorageFactory = Callable[[BatchSettings], FileStorage]
_BACKENDS: dict[str, StorageFactory] = {
    "local": lambda settings: LocalDirectoryStorage(settings.storage_dir),
}


def register_backend(name: str, factory: StorageFactory) -> None:
    """Make ``batches.storage: <name>`` build storage with ``factory(settings.batches)``."""
    _BACKENDS[name] = factory


def build_storage(settings: BatchSettings) -> FileStorage:
    factory = _BACKENDS.get(settings.storage)
    if factory is None:
        known = ", ".join(sorted(_BACKENDS))
        raise ConfigError([f"batches.storage: unknown backend {settings.storage!r} ({known})"])
    return factory(settings)


async def read_all(storage: FileStorage, file_id: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(file_id)])
