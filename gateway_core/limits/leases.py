"""Keeping the holds of requests in flight alive, so that only a dead worker's holds expire.

A hold (a concurrency slot, a budget reservation) is a lease of ``limits.lease_ttl``. Each
worker renews the leases of its requests in flight every third of that, in one backend call for
all of them. A worker that crashes stops renewing, and its holds are given back within one
lease time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway_core.limits.guard import BackendGuard, Unavailable

log = logging.getLogger("gateway.limits")


class LeaseKeeper:
    def __init__(self, guard: BackendGuard, lease_ms: int) -> None:
        self.guard = guard
        self.lease_ms = lease_ms
        self._held: dict[str, list[tuple[str, str]]] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, owner: str, leases: list[tuple[str, str]]) -> None:
        """Renew ``leases`` (counter name, member) until :meth:`release` of ``owner``."""
        self._held.setdefault(owner, []).extend(leases)

    def release(self, owner: str, leases: list[tuple[str, str]] | None = None) -> None:
        """Stop renewing ``leases`` of ``owner`` (all of them when ``None``)."""
        if leases is None:
            self._held.pop(owner, None)
            return
        kept = [lease for lease in self._held.get(owner, ()) if lease not in leases]
        if kept:
            self._held[owner] = kept
        else:
            self._held.pop(owner, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-limits-leases")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def renew_now(self) -> None:
        leases = [lease for held in self._held.values() for lease in held]
        if not leases:
            return
        # On failure (counted and logged by the guard) leases may lapse: during a backend outage
        # requests in flight may stop counting against concurrency limits.
        with contextlib.suppress(Unavailable):
            await self.guard.call("renew", lambda: self.guard.backend.renew(leases, self.lease_ms))

    async def _run(self) -> None:
        interval = self.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew_now()
            except Exception:
                log.exception("renewing limit leases failed")
