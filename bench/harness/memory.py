"""Resident memory of a whole process tree, read from /proc (no psutil needed).

A multi-worker server is a manager process plus forked or spawned workers, so its footprint is
the sum over the tree. A background sampler records the peak of that sum during the run; the
kernel's own per-process high-water mark (VmHWM) gives the peak of the largest single process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process we can see."""
    parents: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces; fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int, parents: dict[int, int] | None = None) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in (parents if parents is not None else _parents()).items():
        children.setdefault(parent, []).append(pid)
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of one process in kB; empty once it has gone."""
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def command(pid: int, limit: int = 120) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:limit]


def tree_rss_kb(root: int, parents: dict[int, int] | None = None) -> dict[int, dict[str, int]]:
    tree = {}
    for pid in [root, *descendants(root, parents)]:
        values = status_kb(pid)
        if values:
            tree[pid] = values
    return tree


@dataclass
class TreePeak:
    """The worst moments seen for one server's tree."""

    peak_total_kb: int = 0
    peak_process_kb: int = 0
    max_processes: int = 0
    last: dict[int, dict[str, int]] = field(default_factory=dict)

    def update(self, tree: dict[int, dict[str, int]]) -> None:
        if not tree:
            return
        self.last = tree
        total = sum(v.get("VmRSS", 0) for v in tree.values())
        largest = max(max(v.get("VmRSS", 0), v.get("VmHWM", 0)) for v in tree.values())
        self.peak_total_kb = max(self.peak_total_kb, total)
        self.peak_process_kb = max(self.peak_process_kb, largest)
        self.max_processes = max(self.max_processes, len(tree))

    def as_dict(self) -> dict[str, float | int]:
        return {
            "peak_total_mb": round(self.peak_total_kb / 1024, 1),
            "peak_process_mb": round(self.peak_process_kb / 1024, 1),
            "processes": self.max_processes,
            "last_total_mb": round(sum(v.get("VmRSS", 0) for v in self.last.values()) / 1024, 1),
        }


class Sampler:
    """Samples every watched tree a few times a second in a daemon thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.roots: dict[str, int] = {}
        self.peaks: dict[str, TreePeak] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self.roots[name] = pid
            self.peaks.setdefault(name, TreePeak())

    def unwatch(self, name: str) -> list[dict[str, object]]:
        """Take a last reading (VmHWM is lost once the process exits) and stop watching.

        Returns the tree as it is now, one entry per process, for the results file.
        """
        self.sample(name)
        with self._lock:
            self.roots.pop(name, None)
            last = dict(self.peaks[name].last)
        return [
            {
                "pid": pid,
                "command": command(pid),
                "rss_mb": round(values.get("VmRSS", 0) / 1024, 1),
                "hwm_mb": round(values.get("VmHWM", 0) / 1024, 1),
            }
            for pid, values in last.items()
        ]

    def sample(self, name: str, parents: dict[int, int] | None = None) -> None:
        with self._lock:
            pid = self.roots.get(name)
        if pid is not None:
            tree = tree_rss_kb(pid, parents)
            with self._lock:
                self.peaks[name].update(tree)

    def _loop(self) -> None:
        # One scan of /proc per tick serves every watched tree: the sampler shares the CPUs
        # with the load it measures, so it stays cheap.
        while not self._stop.wait(self.interval):
            with self._lock:
                names = list(self.roots)
            if not names:
                continue
            parents = _parents()
            for name in names:
                self.sample(name, parents)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
