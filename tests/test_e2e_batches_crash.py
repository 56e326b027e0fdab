"""A batch worker killed with SIGKILL halfway through a batch loses and duplicates nothing.

The first worker is killed while it holds leases on lines in flight; two fresh workers then
finish the batch. Every input line must appear exactly once across the output and error files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway_core.testing import GatewayProcess
from tests.test_e2e_batches import batch_config, chat_line, client, jsonl, results, wait_for

pytestmark = pytest.mark.e2e

LINES = 40


def start_worker(gateway: GatewayProcess, directory: Path, name: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "gateway_core.cli", "batch-worker"]
    with (directory / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [*command, "-c", str(gateway.config_path)],
            cwd=directory,  # the same relative SQLite file and storage directory as the server
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_kill_9_mid_batch_leaves_every_line_exactly_once(
    dialect: str, request, mock_upstream, tmp_path: Path
) -> None:
    config = batch_config(
        mock_upstream, in_process_worker=False, lease_duration="2s", worker_concurrency=4
    )
    if dialect == "postgres":
        server = request.getfixturevalue("postgres_server")
        server.create_database("batch_crash")
        config["database"] = {"url": server.url("batch_crash")}
    gateway = GatewayProcess(config, tmp_path)
    workers: list[subprocess.Popen] = []
    try:
        sdk = client(gateway)
        lines = [chat_line(f"k-{n}", model="slow") for n in range(LINES - 2)]
        lines += [chat_line("k-bad-1", model="broken"), chat_line("k-bad-2", model="broken")]
        uploaded = sdk.files.create(file=("k.jsonl", jsonl(lines)), purpose="batch")
        batch = sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        first = start_worker(gateway, tmp_path, "worker-1")
        workers.append(first)
        deadline = time.monotonic() + 30
        while sdk.batches.retrieve(batch.id).request_counts.completed < 8:
            assert time.monotonic() < deadline, (tmp_path / "worker-1.log").read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert sdk.batches.retrieve(batch.id).status == "in_progress"

        workers += [start_worker(gateway, tmp_path, f"worker-{n}") for n in (2, 3)]
        done = wait_for(sdk, batch.id, {"completed"}, timeout=60)
        output = results(sdk, done.output_file_id)
        errors = results(sdk, done.error_file_id)
        ids = [r["custom_id"] for r in output + errors]
        assert sorted(ids) == sorted(line["custom_id"] for line in lines)
        assert {r["custom_id"] for r in errors} == {"k-bad-1", "k-bad-2"}
        assert done.request_counts.total == LINES
        assert done.request_counts.completed == LINES - 2 and done.request_counts.failed == 2
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(15)
        gateway.stop()
