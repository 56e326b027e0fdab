"""End to end: how the server process starts, scales to several workers and shuts down."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
import yaml

from tests.conftest import MASTER_KEY, MockUpstream, deployment

pytestmark = pytest.mark.e2e


def demo_config(upstream: MockUpstream, **auth: object) -> dict:
    return {
        "auth": auth or {"master_key": MASTER_KEY},
        "server": {"graceful_shutdown": "10s"},
        "models": [{"name": "demo", "deployments": [deployment(upstream.base_url())]}],
    }


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def test_two_workers_serve_concurrently(gateway_process, mock_upstream: MockUpstream) -> None:
    gateway = gateway_process(demo_config(mock_upstream), workers=2)
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)

    def ask(index: int) -> str:
        messages = [{"role": "user", "content": f"question {index}"}]
        return (
            client.chat.completions.create(model="demo", messages=messages)
            .choices[0]
            .message.content
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ask, range(64)))
    assert all(answers)
    workers = [pid for pid in children_of(gateway.process.pid) if children_of(pid) == []]
    assert len(workers) >= 2, gateway.log()


def test_sigterm_lets_an_open_stream_finish(gateway_process, mock_upstream: MockUpstream) -> None:
    gateway = gateway_process(demo_config(mock_upstream))
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)
    first_event = threading.Event()
    pieces: list[str] = []
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            stream = client.chat.completions.create(
                model="demo",
                messages=[{"role": "user", "content": "long answer"}],
                stream=True,
                extra_body={"mock": {"chunks": 8, "chunk_delay": 0.2}},
            )
            for chunk in stream:
                first_event.set()
                if chunk.choices and chunk.choices[0].finish_reason:
                    pieces.append(chunk.choices[0].finish_reason)
                elif chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
        except BaseException as exc:
            failure.append(exc)
            first_event.set()

    reader = threading.Thread(target=consume)
    reader.start()
    assert first_event.wait(10)
    gateway.terminate()
    reader.join(15)
    assert not failure, failure
    assert pieces[-1] == "stop" and len(pieces) == 9  # eight pieces of text, then the end
    assert gateway.process.wait(15) == 0


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_refuses_to_start_without_a_master_key(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    config = demo_config(mock_upstream)
    config["auth"] = {}
    (tmp_path / "router.yaml").write_text(yaml.safe_dump(config))
    result = run_cli("serve", "--port", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "auth.master_key" in result.stderr and "disabled: true" in result.stderr


def test_auth_can_be_disabled_explicitly(gateway_process, mock_upstream: MockUpstream) -> None:
    gateway = gateway_process(demo_config(mock_upstream, disabled=True))
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="anything", max_retries=0)
    assert (
        client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
        .choices[0]
        .message.content
    )
