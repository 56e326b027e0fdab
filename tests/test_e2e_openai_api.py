"""End to end: the official openai SDK against a real gateway process and a real upstream."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from gateway_core.testing import GatewayProcess
from tests.conftest import MASTER_KEY, MockUpstream, deployment

pytestmark = pytest.mark.e2e

BODY_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def gateway(
    mock_upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    up = mock_upstream
    config = {
        "server": {"max_body_bytes": BODY_LIMIT},
        "auth": {"master_key": MASTER_KEY},
        "models": [
            {"name": "demo", "deployments": [deployment(up.base_url())]},
            {"name": "embedder", "deployments": [deployment(up.base_url(), "mock-embed")]},
            {
                "name": "slow",
                "deployments": [
                    deployment(
                        up.base_url(latency=3), timeouts={"connect": 1, "read": 0.5, "total": 5}
                    )
                ],
            },
            {"name": "busy", "deployments": [deployment(up.base_url(status=429, retry_after=7))]},
            {"name": "broken", "deployments": [deployment(up.base_url(status=500))]},
            {"name": "denied", "deployments": [deployment(up.base_url(status=401))]},
            {"name": "picky", "deployments": [deployment(up.base_url(status=400))]},
            {"name": "dropper", "deployments": [deployment(up.base_url(fail_after=2, chunks=6))]},
            {"name": "nowhere", "deployments": [deployment("http://127.0.0.1:9/v1")]},
        ],
    }
    process = GatewayProcess(config, tmp_path_factory.mktemp("gateway"))
    yield process
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)


def chat(client: openai.OpenAI, model: str = "demo", **kwargs):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello"}], **kwargs
    )


def test_chat_completion_round_trip(client: openai.OpenAI) -> None:
    completion = chat(client)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    # The same prompt gives the same deterministic text: the upstream really answered it.
    assert chat(client).choices[0].message.content == completion.choices[0].message.content


def test_stream_arrives_incrementally(client: openai.OpenAI) -> None:
    stream = chat(client, stream=True, extra_body={"mock": {"chunks": 5, "chunk_delay": 0.15}})
    arrivals, text = [], ""
    for chunk in stream:
        arrivals.append(time.monotonic())
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert text == chat(client).choices[0].message.content
    # Five pieces 150 ms apart: if the gateway buffered the stream they would arrive together.
    assert arrivals[-1] - arrivals[0] > 0.45
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert sum(1 for gap in gaps if gap > 0.1) >= 4


def test_stream_usage_when_asked(client: openai.OpenAI) -> None:
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(chat(client, stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="embedder", input=["one", "two"], dimensions=16)
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == 16 for item in result.data)
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens == 2


def test_models_list_and_get(client: openai.OpenAI) -> None:
    names = {model.id for model in client.models.list()}
    assert {"demo", "embedder", "slow"} <= names
    assert client.models.retrieve("demo").id == "demo"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.body["code"] == "model_not_found"


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        chat(client, model="gpt-nonexistent")
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "model_not_found"
    assert caught.value.body["param"] == "model"


def test_missing_and_wrong_api_key_are_401(gateway: GatewayProcess) -> None:
    wrong = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(wrong)
    assert caught.value.body["code"] == "invalid_api_key"
    response = httpx.post(f"{gateway.base_url}/v1/chat/completions", json={"model": "demo"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    assert MASTER_KEY not in response.text


def post_raw(gateway: GatewayProcess, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        content=content,
        headers={
            "Authorization": f"Bearer {MASTER_KEY}",
            "Content-Type": "application/json",
            **headers,
        },
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


def test_malformed_json_is_400(gateway: GatewayProcess) -> None:
    error = assert_openai_error(post_raw(gateway, b'{"model": "demo", '), 400)
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "demo"}', "messages"),
        (b'{"model": "demo", "messages": []}', "messages"),
        (b'{"model": "demo", "messages": ["hi"]}', "messages[0]"),
        (b'{"model": "demo", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
        (
            b'{"model": "demo", "messages": [{"role": "user"}], "stream_options": {}}',
            "stream_options",
        ),
        (b"[1, 2]", None),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    gateway: GatewayProcess, body: bytes, param: str | None
) -> None:
    error = assert_openai_error(post_raw(gateway, body), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_body_over_limit_is_413(gateway: GatewayProcess) -> None:
    big = (
        b'{"model": "demo", "messages": [{"role": "user", "content": "'
        + b"x" * BODY_LIMIT
        + b'"}]}'
    )
    error = assert_openai_error(post_raw(gateway, big), 413)
    assert str(BODY_LIMIT) in error["message"]


def test_upstream_timeout_is_504(client: openai.OpenAI) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        chat(client, model="slow")
    assert caught.value.status_code == 504
    assert caught.value.body["type"] == "timeout_error"
    assert time.monotonic() - started < 2.5  # the 0.5 s read timeout, not the 3 s latency


def test_upstream_429_keeps_retry_after(gateway: GatewayProcess) -> None:
    body = b'{"model": "busy", "messages": [{"role": "user", "content": "x"}]}'
    response = post_raw(gateway, body)
    assert_openai_error(response, 429)
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("broken", 502, "upstream_error"),
        ("denied", 502, "upstream_authentication_error"),
        ("nowhere", 502, "upstream_error"),
        ("picky", 400, "invalid_request"),
    ],
)
def test_upstream_failures_are_mapped(
    gateway: GatewayProcess, model: str, status: int, code: str
) -> None:
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "x"}]}' % model.encode()
    error = assert_openai_error(post_raw(gateway, body), status)
    assert error["code"] == code


def test_unknown_path_and_method(gateway: GatewayProcess) -> None:
    assert_openai_error(httpx.get(f"{gateway.base_url}/v1/nothing-here"), 404)
    assert_openai_error(httpx.get(f"{gateway.base_url}/v1/chat/completions"), 405)


def test_request_id_is_generated_or_kept(gateway: GatewayProcess) -> None:
    body = b'{"model": "demo", "messages": [{"role": "user", "content": "x"}]}'
    generated = post_raw(gateway, body).headers["x-request-id"]
    assert generated.startswith("req_") and len(generated) > 12
    assert post_raw(gateway, body, **{"X-Request-ID": "trace-42.a"}).headers["x-request-id"] == (
        "trace-42.a"
    )
    replaced = post_raw(gateway, body, **{"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"].startswith("req_")
    # Errors carry it too.
    assert post_raw(gateway, b"{").headers["x-request-id"].startswith("req_")
    assert httpx.get(f"{gateway.base_url}/nope").headers["x-request-id"].startswith("req_")


def test_mid_stream_upstream_failure_becomes_error_event(client: openai.OpenAI) -> None:
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in chat(client, model="dropper", stream=True):
            received.append(chunk)
    assert received, "the first events were relayed before the failure"
    assert "upstream" in caught.value.message.lower()
    assert caught.value.body["code"] == "upstream_error"


def test_client_disconnect_cancels_the_upstream_stream(
    gateway: GatewayProcess, mock_upstream: MockUpstream
) -> None:
    before = mock_upstream.stats()["streams_aborted"]

    async def read_two_events_then_leave() -> None:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            http.stream(
                "POST",
                f"{gateway.base_url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
                json={
                    "model": "demo",
                    "stream": True,
                    "messages": [{"role": "user", "content": "x"}],
                    "mock": {"chunks": 40, "chunk_delay": 0.1, "words": 40},
                },
            ) as response,
        ):
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    seen += 1
                if seen == 2:
                    break

    asyncio.run(read_two_events_then_leave())
    deadline = time.monotonic() + 5
    while mock_upstream.stats()["streams_aborted"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    # The upstream saw its connection closed long before its 40 pieces (4 s) were written.
    assert mock_upstream.stats()["streams_aborted"] == before + 1


def test_health_and_readiness(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
