"""Child processes that are always cleaned up: own process group, logged output, tree kill.

Every server the harness starts goes through :func:`start`; :func:`stop_all` (called from a
``finally`` in run.py) ends them all, including worker processes they forked, even after an
error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.memory import descendants

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LEVEL = re.compile(r"\b(ERROR|CRITICAL)\b")
#: "sanic.exceptions.RequestCancelled", "ValueError: bad" -- the last line of a logged exception
EXCEPTION = re.compile(r"^(\w+\.)*[A-Z]\w*(Error|Exception|Cancelled|Timeout)\b(:|$)")


class StartupError(RuntimeError):
    """A server did not come up; the message carries the end of its log."""


@dataclass
class Managed:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = ANSI.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            return ""
        return "\n".join(line for line in text.splitlines()[-lines:] if line.strip())

    def error_lines(self) -> tuple[int, str | None]:
        """Roughly how many errors the log reports, and the first one.

        Counts lines with an ERROR/CRITICAL level and lines naming an exception type, and takes
        the larger: a logged exception shows up as both when the logger is configured, and
        only as the bare message and exception when it is not (e.g. in spawned workers).
        """
        try:
            lines = ANSI.sub("", self.log_path.read_text(errors="replace")).splitlines()
        except OSError:
            return 0, None
        levels = [i for i, line in enumerate(lines) if LEVEL.search(line)]
        raised = [i for i, line in enumerate(lines) if EXCEPTION.match(line.strip())]
        hits = levels if len(levels) >= len(raised) else raised
        if not hits:
            return 0, None
        first = hits[0] if hits is levels else max(hits[0] - 1, 0)
        example = " / ".join(line.strip() for line in lines[first : first + 2])
        return len(hits), example[:300]

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM the group, wait, then SIGKILL the group and any stray descendant."""
        tree = [self.pid, *descendants(self.pid)]
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        _signal_group(self.pid, signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


_running: list[Managed] = []


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def start(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
) -> Managed:
    """Start ``argv`` in its own session; ``env`` adds variables, or removes those set to None."""
    environment = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    log_path = log_dir / f"{name}.log"
    log_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=cwd,
            start_new_session=True,
        )
    managed = Managed(name, popen, log_path)
    _running.append(managed)
    return managed


def stop(managed: Managed) -> None:
    managed.stop()
    if managed in _running:
        _running.remove(managed)


def stop_all() -> None:
    """Ask every server to stop at once, then make sure each one is gone."""
    for managed in _running:
        if managed.alive():
            _signal_group(managed.pid, signal.SIGTERM)
    while _running:
        managed = _running.pop()
        started = time.monotonic()
        try:
            managed.stop()
        except Exception as exc:  # cleanup must reach every process
            print(f"warning: could not stop {managed.name}: {exc}", file=sys.stderr)
        took = time.monotonic() - started
        if took > 2:
            print(f"warning: {managed.name} took {took:.1f}s to stop", file=sys.stderr)


def wait_http(managed: Managed, url: str, timeout: float) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not managed.alive():
            raise StartupError(
                f"{managed.name} exited with code {managed.popen.returncode}:\n{managed.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return time.monotonic() - started
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise StartupError(
        f"{managed.name} did not answer {url} within {timeout:.0f}s ({last}):\n{managed.log_tail()}"
    )


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every ``finally`` runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
