"""Credentials: botocore's chain, run in threads, cached, refreshed before they expire.

The metadata and STS services are small HTTP servers on loopback; the instance metadata
service is disabled in every test, so nothing here leaves the machine.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from gateway_bedrock.config import BedrockConfig
from gateway_bedrock.credentials import REFRESH_RETRY_INTERVAL, CredentialCache, credential_source

from gateway_core.api import UpstreamError

UTC = datetime.UTC


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS settings from the machine running the tests, and no instance metadata."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def config(**keys: Any) -> BedrockConfig:
    return BedrockConfig(model="amazon.nova-lite-v1:0", region="us-east-1", **keys)


def resolve(config: BedrockConfig) -> Any:
    return asyncio.run(CredentialCache(credential_source(config), "d1").get())


# -- the chain ---------------------------------------------------------------------------------


def test_environment_credentials(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    aws_env.setenv("AWS_SESSION_TOKEN", "env-token")
    frozen = resolve(config())
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "AKIDFROMENV",
        "env-secret",
        "env-token",
    )


def test_explicit_keys_win_over_the_environment(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    frozen = resolve(config(aws_access_key_id="AKIDCONFIG", aws_secret_access_key="cfg-secret"))
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "AKIDCONFIG",
        "cfg-secret",
        None,
    )


def test_a_named_shared_profile(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"
        "[bedrock-prod]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p-secret\n"
    )
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    assert resolve(config(profile="bedrock-prod")).access_key == "AKIDPROFILE"
    assert resolve(config()).access_key == "AKIDDEFAULT"


def test_no_credentials_anywhere_is_a_gateway_error(aws_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(UpstreamError) as caught:
        resolve(config())
    assert caught.value.code == "upstream_authentication_error"
    assert "found no AWS credentials" in caught.value.message


class FakeService:
    """A loopback HTTP server whose answers a test supplies; it records what it got."""

    def __init__(self, answer: Callable[[str, dict[str, str], bytes], tuple[int, str]]) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                service.requests.append((self.path, headers, body))
                status, text = answer(self.path, headers, body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeService]]:
    started: list[FakeService] = []

    def start(answer: Callable[[str, dict[str, str], bytes], tuple[int, str]]) -> FakeService:
        started.append(FakeService(answer))
        return started[-1]

    yield start
    for service in started:
        service.close()


def expires_in(seconds: float) -> str:
    moment = datetime.datetime.now(UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_container_metadata_credentials(aws_env: pytest.MonkeyPatch, serve) -> None:
    handed_out = []

    def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        handed_out.append(headers.get("authorization"))
        key = f"ASIACONTAINER{len(handed_out)}"
        creds = {
            "AccessKeyId": key,
            "SecretAccessKey": "container-secret",
            "Token": "container-token",
            "Expiration": expires_in(3600),
        }
        return 200, json.dumps(creds)

    service = serve(answer)
    aws_env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{service.url}/v2/credentials/abc")
    aws_env.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token")
    frozen = resolve(config())
    assert (frozen.access_key, frozen.token) == ("ASIACONTAINER1", "container-token")
    assert service.requests[0][0] == "/v2/credentials/abc"
    assert handed_out == ["pod-identity-token"]


STS_ANSWER = """<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMED</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-token</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:gateway-bedrock</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/bedrock-invoker/gateway-bedrock</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""


def test_assume_role_signs_sts_with_the_source_keys(aws_env: pytest.MonkeyPatch, serve) -> None:
    sts = serve(lambda *_: (200, STS_ANSWER.format(expiration=expires_in(3600))))
    frozen = resolve(
        config(
            aws_access_key_id="AKIDSOURCE",
            aws_secret_access_key="source-secret",
            role_arn="arn:aws:iam::123456789012:role/bedrock-invoker",
            external_id="ext-4411",
            sts_endpoint_url=sts.url,
        )
    )
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIAASSUMED",
        "assumed-secret",
        "assumed-token",
    )
    ((_path, headers, body),) = sts.requests
    form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
    assert form["Action"] == "AssumeRole"
    assert form["RoleArn"] == "arn:aws:iam::123456789012:role/bedrock-invoker"
    assert form["RoleSessionName"] == "gateway-bedrock"
    assert form["ExternalId"] == "ext-4411"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDSOURCE/")
    assert "/us-east-1/sts/aws4_request" in headers["authorization"]


def test_a_refused_assume_role_names_no_secret(aws_env: pytest.MonkeyPatch, serve) -> None:
    refusal = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>"
        "User AKIDSOURCE with secret source-secret may not assume</Message></Error>"
        "</ErrorResponse>"
    )
    sts = serve(lambda *_: (403, refusal))
    with pytest.raises(UpstreamError) as caught:
        resolve(
            config(
                aws_access_key_id="AKIDSOURCE",
                aws_secret_access_key="source-secret",
                role_arn="arn:aws:iam::123456789012:role/bedrock-invoker",
                sts_endpoint_url=sts.url,
            )
        )
    assert caught.value.code == "upstream_authentication_error"
    assert "ClientError" in caught.value.message
    assert "source-secret" not in caught.value.message
    assert "AKIDSOURCE" not in caught.value.message


# -- the cache ---------------------------------------------------------------------------------


def test_resolution_runs_in_a_thread_and_the_loop_keeps_going() -> None:
    threads = []

    def slow_source() -> Credentials:
        threads.append(threading.current_thread())
        time.sleep(0.3)  # a metadata service taking its time
        return Credentials("AKIDSLOW", "slow-secret")

    async def run() -> tuple[int, list[str]]:
        cache = CredentialCache(slow_source, "d1")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        keys = await asyncio.gather(*(cache.get() for _ in range(20)))
        ticking.cancel()
        return ticks, [k.access_key for k in keys]

    ticks, keys = asyncio.run(run())
    assert keys == ["AKIDSLOW"] * 20
    assert len(threads) == 1, "twenty waiting requests, one resolution"
    assert threads[0] is not threading.main_thread()
    assert ticks >= 10, "the event loop was blocked while credentials were resolved"


class Clock:
    """Wall time for botocore's expiry checks, monotonic time for the cache: moved together."""

    def __init__(self) -> None:
        self.start = datetime.datetime.now(UTC)
        self.elapsed = 0.0

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed


class RotatingRole:
    """Temporary credentials for an hour, a new key each refresh; a refresh may be told to fail."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.issued = 0
        self.failing = False
        self.gate: threading.Event | None = None

    def metadata(self) -> dict[str, str]:
        if self.gate is not None:
            self.gate.wait(5)
        if self.failing:
            raise RuntimeError("metadata service down; secret role-secret-9 must not show")
        self.issued += 1
        expiry = self.clock.now() + datetime.timedelta(hours=1)
        return {
            "access_key": f"ASIAROLE{self.issued}",
            "secret_key": f"role-secret-{self.issued}",
            "token": f"role-token-{self.issued}",
            "expiry_time": expiry.isoformat(),
        }

    def credentials(self) -> RefreshableCredentials:
        first = self.metadata()
        return RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.datetime.fromisoformat(first["expiry_time"]),
            self.metadata,
            "test-role",
            time_fetcher=self.clock.now,
        )


def rotating_cache() -> tuple[Clock, RotatingRole, CredentialCache]:
    clock = Clock()
    role = RotatingRole(clock)
    return clock, role, CredentialCache(role.credentials, "d1", clock=clock.monotonic)


def test_temporary_credentials_are_reused_then_refreshed_before_expiry() -> None:
    clock, role, cache = rotating_cache()

    async def run() -> list[str]:
        seen = [(await cache.get()).access_key]
        clock.advance(30 * 60)  # half an hour left: still fine
        seen.append((await cache.get()).access_key)
        clock.advance(16 * 60)  # fourteen minutes left: botocore's advisory window
        seen.append((await cache.get()).access_key)
        seen.append((await cache.get()).access_key)
        return seen

    assert asyncio.run(run()) == ["ASIAROLE1", "ASIAROLE1", "ASIAROLE2", "ASIAROLE2"]
    assert role.issued == 2


def test_requests_keep_signing_while_a_refresh_is_under_way() -> None:
    clock, role, cache = rotating_cache()

    async def run() -> tuple[str, str]:
        await cache.get()
        clock.advance(50 * 60)
        role.gate = threading.Event()
        refreshing = asyncio.create_task(cache.get())
        await asyncio.sleep(0.05)  # the refresh is now blocked in its thread
        during = (await asyncio.wait_for(cache.get(), 1)).access_key
        role.gate.set()
        return during, (await refreshing).access_key

    assert asyncio.run(run()) == ("ASIAROLE1", "ASIAROLE2")


def test_a_failed_refresh_keeps_valid_credentials_and_is_not_retried_at_once() -> None:
    clock, role, cache = rotating_cache()

    async def run() -> None:
        await cache.get()
        role.failing = True
        clock.advance(55 * 60)  # five minutes left: botocore must refresh, and cannot
        assert (await cache.get()).access_key == "ASIAROLE1"
        attempts = role.issued
        assert (await cache.get()).access_key == "ASIAROLE1"
        assert role.issued == attempts
        clock.advance(REFRESH_RETRY_INTERVAL)
        role.failing = False
        assert (await cache.get()).access_key == "ASIAROLE2"

    asyncio.run(run())


def test_credentials_past_use_are_not_signed_with() -> None:
    clock, role, cache = rotating_cache()

    async def run() -> UpstreamError:
        await cache.get()
        role.failing = True
        clock.advance(59 * 60 + 30)  # thirty seconds left
        with pytest.raises(UpstreamError) as caught:
            await cache.get()
        return caught.value

    failure = asyncio.run(run())
    assert failure.code == "upstream_authentication_error"
    assert "role-secret" not in failure.message


def test_invalidated_credentials_are_resolved_anew() -> None:
    issued = iter(["AKIDFIRST", "AKIDSECOND"])
    cache = CredentialCache(lambda: Credentials(next(issued), "s"), "d1")

    async def run() -> list[str]:
        first = (await cache.get()).access_key
        cache.invalidate()
        return [first, (await cache.get()).access_key]

    assert asyncio.run(run()) == ["AKIDFIRST", "AKIDSECOND"]
