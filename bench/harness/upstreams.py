"""The two upstreams every system is pointed at.

* nginx (Debian package, one worker, its own prefix) answers with canned bytes from
  bench/nginx/, fast enough never to be the bottleneck. It serves the plain and the streaming
  chat answer at different paths, because it cannot read the ``stream`` flag in a body.
* examples/mock_upstream.py covers what canned bytes cannot: a stream whose pieces arrive
  spaced in time ("paced"), which shows whether a proxy forwards the first piece at once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness import procs
from harness.knobs import BENCH_DIR, REPO
from harness.ports import LOOPBACK, free_port

NGINX_DIR = BENCH_DIR / "nginx"
#: The paced stream: 24 pieces, 1 ms apart, with a usage chunk at the end.
PACED_OPTIONS = "chunks=24,chunk_delay=0.001,words=24"


@dataclass
class Upstreams:
    nginx_port: int
    mock_port: int

    @property
    def chat_base(self) -> str:
        return f"http://{LOOPBACK}:{self.nginx_port}/v1"

    @property
    def stream_base(self) -> str:
        return f"http://{LOOPBACK}:{self.nginx_port}/stream/v1"

    @property
    def paced_base(self) -> str:
        return f"http://{LOOPBACK}:{self.mock_port}/mock/{PACED_OPTIONS}/v1"

    def nginx_requests(self) -> int:
        """nginx's own count of requests served (stub_status), the leak check's meter."""
        url = f"http://{LOOPBACK}:{self.nginx_port}/nginx/status"
        with urllib.request.urlopen(url, timeout=5) as response:
            lines = response.read().decode().splitlines()
        return int(lines[2].split()[2])


def render_nginx_conf(work: Path, port: int) -> Path:
    """Copy the canned answers next to the config, so the instance reads only its own files."""
    www = work / "www"
    www.mkdir(parents=True, exist_ok=True)
    for name in ("chat.json", "stream.sse"):
        shutil.copyfile(NGINX_DIR / name, www / name)
        (www / name).chmod(0o644)
    www.chmod(0o755)
    template = (NGINX_DIR / "nginx.conf.template").read_text()
    for key, value in {"WORK": str(work), "WWW": str(www), "PORT": str(port)}.items():
        template = template.replace("{{" + key + "}}", value)
    conf = work / "nginx.conf"
    conf.write_text(template)
    return conf


def nginx_binary() -> str:
    # Debian puts nginx in /usr/sbin, which is not on every user's PATH.
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise procs.StartupError(
            "nginx is not installed; run `WITH_BENCH_TOOLS=1 bash .ci/system-packages`"
        )
    return found


def nginx_version() -> str:
    try:
        result = subprocess.run(
            [nginx_binary(), "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, procs.StartupError):
        return "unavailable"
    return (result.stderr or result.stdout).strip().removeprefix("nginx version: ")  # nginx/1.x


def start_nginx(work: Path) -> tuple[procs.Managed, int]:
    nginx_work = work / "nginx"
    nginx_work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = render_nginx_conf(nginx_work, port)
    binary = nginx_binary()
    argv = [binary, "-p", str(nginx_work), "-c", str(conf), "-e", str(nginx_work / "startup.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=20, check=False)
    if check.returncode != 0:
        raise procs.StartupError(f"nginx rejected {conf}:\n{check.stderr}")
    managed = procs.start("nginx", argv, work)
    procs.wait_http(managed, f"http://{LOOPBACK}:{port}/nginx/status", timeout=20)
    return managed, port


def start_mock(work: Path) -> tuple[procs.Managed, int]:
    port = free_port()
    script = REPO / "examples" / "mock_upstream.py"
    argv = [sys.executable, str(script), "--host", LOOPBACK, "--port", str(port)]
    managed = procs.start("mock-upstream", argv, work, cwd=work)
    procs.wait_http(managed, f"http://{LOOPBACK}:{port}/mock/stats", timeout=30)
    return managed, port
