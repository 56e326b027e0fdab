"""Real Redis and PostgreSQL servers on loopback, for tests (the core's and plugins').

The gateway's shared state and durable data live in Redis and PostgreSQL, and the failures worth
testing (reconnects, outages, SQL the ORM really emits) are the ones fakes do not have. So tests
start the real servers: each on a free 127.0.0.1 port, with its data in a fresh temporary
directory, tuned for speed over durability, stopped and deleted by ``close()`` (or at interpreter
exit if a test run forgets).

They need the Debian packages ``redis-server`` and ``postgresql``; ``make test`` installs them via
``.ci/system-packages``. A missing binary raises :class:`ServerUnavailable` instead of skipping:
in CI a missing server is a broken machine, not an optional feature.

Standard library only, so importing this never drags test dependencies into a plugin's package.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

__all__ = [
    "DEBIAN_POSTGRES_ROOT",
    "PostgresServer",
    "RedisServer",
    "ServerUnavailable",
    "free_port",
    "postgres_bin_dir",
    "redis_server_binary",
]

DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_SYSTEM_USER = "postgres"


class ServerUnavailable(RuntimeError):
    """A test server's binaries are missing or the server would not start."""


def _install_hint(package: str) -> str:
    return (
        f"install the Debian package {package!r} (apt-get install {package}), "
        "or run `make test`, which installs it via .ci/system-packages"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The same as ``gateway_core.testing.free_port``, repeated so this module needs no pytest.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    log_path: Path,
    process: subprocess.Popen[Any] | None = None,
) -> None:
    """Poll ``ready``; fail early, with the server's log, if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise ServerUnavailable(
                f"{what} exited with status {process.returncode} before answering; "
                f"log {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(0.05)
    raise ServerUnavailable(
        f"{what} did not answer within {timeout}s; log {log_path}:\n{_log_tail(log_path)}"
    )


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first, then ppid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as dead, since nothing may ever reap it.

    Servers that daemonize are re-parented to PID 1, which in some containers never reaps.
    """
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        stat = _proc_stat(int(entry.name))
        if stat is not None and stat[1] == str(pid):
            found.append(int(entry.name))
    return found


def _wait_for_state(pid: int, state: str, timeout: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = _proc_stat(pid)
        if stat is None or stat[0] == state:
            return
        time.sleep(0.005)


def _kill_tree(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL ``pid`` and its children, and wait until all are gone, like a machine dying.

    ``pid`` is stopped first so that it cannot fork a child we would miss.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    _wait_for_state(pid, "T")
    pids = [pid, *_children(pid)]
    for each in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_alive(each) for each in pids):
        if time.monotonic() > deadline:
            raise ServerUnavailable(f"processes {pids} survived SIGKILL for {timeout}s")
        time.sleep(0.02)


class _TempServer:
    """A server owning a temporary directory; ``close()`` stops it and deletes the directory."""

    def __init__(self, prefix: str, parent: str | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.log_path = self.directory / "server.log"
        # A test run that dies on an exception must not leave servers behind.
        atexit.register(self.close)

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def restart(self) -> Self:
        """Stop (if running) and start again on the same port with the same data directory."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server for good and delete its directory; safe to call twice."""
        atexit.unregister(self.close)
        try:
            self.stop()
        except Exception:
            self.kill()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def redis_server_binary() -> str:
    """The ``redis-server`` on PATH, or :class:`ServerUnavailable` saying what to install."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable(f"redis-server is not on PATH: {_install_hint('redis-server')}")
    return binary


def redis_ping(port: int, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING on 127.0.0.1:``port`` (raw RESP, no client library)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(_TempServer):
    """``redis-server`` as a child process: loopback only, no persistence, its own directory.

    ``with RedisServer() as redis: ...`` starts it and cleans up; ``kill()`` then ``restart()``
    simulates an outage and recovery on the same port (data is lost: nothing is persisted).
    """

    def __init__(self, *, port: int | None = None, start_timeout: float = 10.0) -> None:
        self.binary = redis_server_binary()  # before the directory exists, so nothing leaks
        super().__init__("gateway-redis-")
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ping(self) -> bool:
        return redis_ping(self.port)

    def start(self) -> Self:
        """Start the server (no-op if running) and wait until it answers PING."""
        if self.running:
            return self
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed arguments, binary from PATH)
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        _wait_until(
            self.ping,
            timeout=self.start_timeout,
            what=f"redis-server on port {self.port}",
            log_path=self.log_path,
            process=self.process,
        )
        return self

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), SIGKILL if that takes over 10 s; no-op if stopped."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server, for outage tests; the port stops answering at once."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def postgres_bin_dir(root: Path = DEBIAN_POSTGRES_ROOT) -> Path:
    """The newest Debian PostgreSQL ``bin`` directory, else the one holding ``initdb`` on PATH."""
    candidates = [initdb.parent for initdb in root.glob("*/bin/initdb")]
    if candidates:
        return max(candidates, key=_version_key)
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise ServerUnavailable(
        f"PostgreSQL server binaries not found ({root}/<version>/bin/initdb, or initdb on PATH): "
        + _install_hint("postgresql")
    )


def _postgres_account() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: None for ourselves, the ``postgres`` user if root.

    PostgreSQL refuses to run as root, and CI runs as root.
    """
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise ServerUnavailable(
            "PostgreSQL refuses to run as root and there is no 'postgres' system user to run it "
            f"as: {_install_hint('postgresql')} (it creates the user), or run tests as non-root"
        ) from None


def _runuser() -> str:
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if not Path(runuser).exists():
        raise ServerUnavailable(
            "running PostgreSQL as root needs `runuser` to switch to the postgres user: "
            + _install_hint("util-linux")
        )
    return runuser


def _libpq_env() -> dict[str, str]:
    """Our environment minus PG* variables, which would redirect or reconfigure the tools."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresServer(_TempServer):
    """A throwaway PostgreSQL cluster: ``initdb`` into a temp dir, served on loopback TCP only.

    Trust authentication for the ``postgres`` superuser, no Unix socket (so no socket-path or
    /var/run permission problems), and fsync, synchronous commit and full-page writes off: fast,
    and the data is disposable. When we are root, the cluster runs as the ``postgres`` user.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        bin_dir: Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.bin_dir = bin_dir or postgres_bin_dir()
        self._check_tools()
        self._account = _postgres_account()
        self._run_as = [_runuser(), "-u", self._account.pw_name, "--"] if self._account else []
        # /tmp is reachable by the postgres user even when TMPDIR points into root's home;
        # mkdtemp makes a fresh private directory there, so the shared /tmp is no risk.
        parent = "/tmp" if self._account else None  # noqa: S108
        super().__init__("gateway-pg-", parent=parent)
        if self._account is not None:
            os.chown(self.directory, self._account.pw_uid, self._account.pw_gid)
        self.data_dir = self.directory / "data"
        self.port = port or free_port()
        self.start_timeout = start_timeout

    def _check_tools(self) -> None:
        for tool, package in (("initdb", "postgresql"), ("pg_ctl", "postgresql")):
            if not (self.bin_dir / tool).exists():
                raise ServerUnavailable(
                    f"{self.bin_dir / tool} is missing: {_install_hint(package)}"
                )
        if not (self.bin_dir / "psql").exists():
            raise ServerUnavailable(
                f"{self.bin_dir / 'psql'} is missing: {_install_hint('postgresql-client')}"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{urllib.parse.quote(database, safe='')}"

    @property
    def running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and _alive(pid)

    def postmaster_pid(self) -> int | None:
        """The postmaster's PID from ``postmaster.pid``, or None if there is none (yet)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _server_tool(self, tool: str, *args: str, timeout: float) -> None:
        """Run a server-side tool (initdb, pg_ctl) as the cluster's owner; raise with its output."""
        command = [*self._run_as, str(self.bin_dir / tool), *args]
        result = subprocess.run(  # noqa: S603 (fixed arguments, binaries from the PostgreSQL bin dir)
            command,
            cwd=self.directory,  # the postgres user may not be allowed into our working directory
            env=_libpq_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerUnavailable(
                f"{tool} {' '.join(args)} failed with status {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\nlog {self.log_path}:\n{_log_tail(self.log_path)}"
            )

    def _initdb(self) -> None:
        self._server_tool(
            "initdb",
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "-E", "UTF8",
            "--no-locale",  # the C locale exists everywhere; a container's LANG may not
            "--no-sync",
            timeout=120,
        )  # fmt: skip

    def _server_options(self) -> str:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        # pg_ctl hands these to /bin/sh, hence the quoting.
        return " ".join(
            [f"-p {self.port}", *(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())]
        )

    def start(self) -> Self:
        """initdb on first start, then start the server and wait until it accepts connections."""
        if self.running:
            return self
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._server_tool(
            "pg_ctl",
            "-D", str(self.data_dir),
            "-l", str(self.log_path),
            "-o", self._server_options(),
            "-w", "-t", str(int(self.start_timeout)),
            "start",
            timeout=self.start_timeout + 30,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """Fast shutdown (disconnects clients, then checkpoints); no-op if not running."""
        if not self.running:
            self._forget_dead_postmaster()
            return
        try:
            self._server_tool(
                "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop",
                timeout=60,
            )  # fmt: skip
        except (ServerUnavailable, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, for outage tests; ``restart()`` recovers.

        Crash recovery restores committed data, except that with synchronous_commit off the
        last fraction of a second of commits may be lost: run ``CHECKPOINT`` first if a test
        relies on them surviving.
        """
        pid = self.postmaster_pid()
        if pid is not None and _alive(pid):
            _kill_tree(pid)
        self._forget_dead_postmaster()

    def _forget_dead_postmaster(self) -> None:
        """Delete a dead postmaster's ``postmaster.pid``.

        Its PID may linger as an unreaped zombie, which the next postmaster would take for a
        running server. Only called once every process of the old server is gone.
        """
        if self.postmaster_pid() is not None:
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql over TCP as the superuser; its unaligned output, or raise."""
        command = [
            str(self.bin_dir / "psql"),
            "-X", "-q", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-c", sql,
        ]  # fmt: skip
        result = subprocess.run(  # noqa: S603 (fixed arguments, psql from the PostgreSQL bin dir)
            command,
            env=_libpq_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise ServerUnavailable(f"psql failed ({sql!r}): {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create database ``name`` (any name; it is quoted) and return its URL."""
        self.psql(f"CREATE DATABASE {_quote_ident(name)}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its clients (PostgreSQL 13+)."""
        self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
