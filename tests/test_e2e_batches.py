"""End to end: the Files and Batches API through the official openai SDK, over real HTTP."""

from __future__ import annotations

import io
import json
import time

import httpx
import openai
import pytest

from gateway_core.testing import GatewayProcess
from tests.conftest import MASTER_KEY, MockUpstream, deployment

pytestmark = pytest.mark.e2e


def batch_config(upstream: MockUpstream, **batches) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY, "methods": ["master_key", "virtual_key"]},
        "models": [
            {"name": "demo", "deployments": [deployment(upstream.base_url())]},
            {"name": "slow", "deployments": [deployment(upstream.base_url(latency=0.3))]},
            {"name": "broken", "deployments": [deployment(upstream.base_url(status=400))]},
        ],
        "batches": {"poll_interval": "50ms", **batches},
    }


def jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def chat_line(custom_id: str, model: str = "demo") -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": custom_id}]},
    }


def client(gateway: GatewayProcess, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0)


def wait_for(sdk: openai.OpenAI, batch_id: str, statuses: set[str], timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        batch = sdk.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert time.monotonic() < deadline, f"batch stuck in {batch.status}"
        time.sleep(0.1)


def results(sdk: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in sdk.files.content(file_id).text.splitlines()]


@pytest.fixture(scope="module")
def gateway(mock_upstream, tmp_path_factory) -> GatewayProcess:
    process = GatewayProcess(batch_config(mock_upstream), tmp_path_factory.mktemp("batches"))
    yield process
    process.stop()


def test_a_batch_runs_to_completion_with_the_sdk(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    lines = [chat_line(f"req-{n}") for n in range(5)] + [chat_line("bad", model="broken")]
    uploaded = sdk.files.create(file=("input.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(jsonl(lines))
    assert sdk.files.retrieve(uploaded.id).filename == "input.jsonl"
    assert sdk.files.content(uploaded.id).content == jsonl(lines)

    batch = sdk.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.status == "in_progress" and batch.metadata == {"job": "nightly"}
    assert batch.expires_at == batch.created_at + 24 * 3600
    done = wait_for(sdk, batch.id, {"completed"})
    assert done.request_counts.total == 6
    assert done.request_counts.completed == 5 and done.request_counts.failed == 1
    assert done.completed_at >= done.finalizing_at >= done.in_progress_at

    output = results(sdk, done.output_file_id)
    assert sorted(r["custom_id"] for r in output) == [f"req-{n}" for n in range(5)]
    assert all(r["response"]["status_code"] == 200 for r in output)
    assert output[0]["response"]["body"]["object"] == "chat.completion"
    (error,) = results(sdk, done.error_file_id)
    assert error["custom_id"] == "bad" and error["response"]["status_code"] == 400
    assert error["response"]["body"]["error"]["type"]

    listed = sdk.batches.list(limit=10)
    assert batch.id in [b.id for b in listed.data]


def test_batch_list_pages_with_after(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    uploaded = sdk.files.create(file=("p.jsonl", jsonl([chat_line("x")])), purpose="batch")
    created = [
        sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        for _ in range(3)
    ]
    first = sdk.batches.list(limit=2)
    assert first.has_more
    second = sdk.batches.list(limit=2, after=first.data[-1].id)
    seen = [b.id for b in first.data] + [b.id for b in second.data]
    assert len(seen) == len(set(seen))
    assert seen[:3] == created[::-1]  # newest first
    assert set(created) <= {b.id for b in sdk.batches.list(limit=100).data}


def test_uploads_are_validated_line_by_line(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    bad = jsonl([chat_line("a"), chat_line("a")])
    with pytest.raises(openai.BadRequestError) as duplicate:
        sdk.files.create(file=("d.jsonl", bad), purpose="batch")
    assert "Line 2" in duplicate.value.message and "custom_id" in duplicate.value.message
    with pytest.raises(openai.BadRequestError) as broken:
        sdk.files.create(file=("j.jsonl", b'{"custom_id": "a"\n'), purpose="batch")
    assert "Line 1" in broken.value.message
    wrong_url = {**chat_line("u"), "url": "/v1/images"}
    with pytest.raises(openai.BadRequestError):
        sdk.files.create(file=("u.jsonl", jsonl([wrong_url])), purpose="batch")


def test_files_are_private_to_their_owner(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    uploaded = sdk.files.create(file=("mine.jsonl", jsonl([chat_line("m")])), purpose="batch")
    created = httpx.post(
        f"{gateway.base_url}/admin/api/keys",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"name": "other"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    other = client(gateway, created.json()["key"])
    with pytest.raises(openai.NotFoundError):
        other.files.retrieve(uploaded.id)
    assert uploaded.id not in [f.id for f in other.files.list().data]
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)


def test_cancel_reports_unrun_lines_in_the_error_file(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    lines = [chat_line(f"c-{n}", model="slow") for n in range(40)]
    uploaded = sdk.files.create(file=("c.jsonl", jsonl(lines)), purpose="batch")
    batch = sdk.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    cancelling = sdk.batches.cancel(batch.id)
    assert cancelling.status in {"cancelling", "cancelled"}
    done = wait_for(sdk, batch.id, {"cancelled"})
    assert done.cancelled_at is not None and done.request_counts.total == 40
    ids = [r["custom_id"] for r in results(sdk, done.output_file_id)]
    ids += [r["custom_id"] for r in results(sdk, done.error_file_id)]
    assert sorted(ids) == sorted(line["custom_id"] for line in lines)


def test_a_batch_whose_lines_do_not_match_its_endpoint_fails(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    uploaded = sdk.files.create(file=("e.jsonl", jsonl([chat_line("e")])), purpose="batch")
    batch = sdk.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
    )
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors.data[0].code == "invalid_url" and batch.errors.data[0].line == 1
    with pytest.raises(openai.ConflictError):
        sdk.batches.cancel(batch.id)


def test_an_embeddings_batch(gateway: GatewayProcess) -> None:
    sdk = client(gateway)
    lines = [
        {
            "custom_id": f"e-{n}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "demo", "input": f"text {n}"},
        }
        for n in range(3)
    ]
    uploaded = sdk.files.create(file=("emb.jsonl", jsonl(lines)), purpose="batch")
    batch = sdk.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
    )
    done = wait_for(sdk, batch.id, {"completed"})
    assert done.error_file_id is None and done.request_counts.completed == 3
    output = results(sdk, done.output_file_id)
    assert sorted(r["custom_id"] for r in output) == ["e-0", "e-1", "e-2"]
    assert all(r["response"]["body"]["data"][0]["embedding"] for r in output)
    assert {r["response"]["request_id"] for r in output} == {f"{batch.id}-{n}" for n in (1, 2, 3)}
