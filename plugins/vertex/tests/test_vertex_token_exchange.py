"""Google sign-in over real HTTP: service-account assertions checked by a local token endpoint
the way Google checks them, token reuse and refresh, application default credentials, and
refusals that repeat nothing secret."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_vertex.auth.adc import ApplicationDefaultTokens
from gateway_vertex.auth.keys import service_account_key
from gateway_vertex.auth.service_account import ServiceAccountTokens, signed_assertion
from gateway_vertex.auth.signing import token_source
from gateway_vertex.config import ApplicationDefaultCredentials, ServiceAccountCredentials
from vertex_fakes import (
    ACCESS_TOKEN,
    CLIENT_EMAIL,
    CLOUD_PLATFORM,
    KEY_ID,
    private_key,
    service_account_info,
    service_account_json,
    token_endpoint,
)

from gateway_core.api import Timeouts, UpstreamClient, UpstreamError
from gateway_core.testing import Exchange, ReplayUpstream
from gateway_core.token_requests import TokenRequests
from gateway_core.tokens import TokenCache

TIMEOUTS = Timeouts(connect=2, read=5, total=5)
AUTH_FAILED = "upstream_authentication_error"
USER_FILE = {
    "type": "authorized_user",
    "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
    "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
    "refresh_token": "1//0gUserRefreshToken-Zx81",
}

Test = Callable[[str, TokenRequests], Awaitable[None]]


def run_against(exchanges: list[Exchange], test: Test) -> list[list[Any]]:
    """Run ``test`` with the URL of a loopback server playing ``exchanges``; return what each
    exchange received, after checking that every request met its expectations."""
    with ReplayUpstream() as upstream:
        armed = upstream.arm(exchanges)

        async def main() -> None:
            http = UpstreamClient()
            await http.open()
            try:
                await test(upstream.url, TokenRequests(http, TIMEOUTS, "gemini/0"))
            finally:
                await http.close()

        asyncio.run(main())
    assert armed.problems() == []
    return armed.received


def inline(token_uri: str, **keys: Any) -> ServiceAccountCredentials:
    return ServiceAccountCredentials(
        type="service_account", key=service_account_json(token_uri), **keys
    )


# -- service accounts ---------------------------------------------------------------------


def test_the_assertion_is_signed_with_the_key_and_exchanged_for_a_token() -> None:
    async def fetch(url: str, requests: TokenRequests) -> None:
        token = await token_source(inline(f"{url}/token"), requests)()
        assert (token.value, token.expires_in) == (ACCESS_TOKEN, 3599)

    received = run_against([token_endpoint()], fetch)
    assert len(received[0]) == 1


def test_the_local_token_endpoint_rejects_an_assertion_signed_with_another_key() -> None:
    """The verifier behind every other test really verifies."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"iss": CLIENT_EMAIL, "scope": CLOUD_PLATFORM, "aud": "x", "iat": 1, "exp": 2},
        stranger,
        algorithm="RS256",
    )
    with ReplayUpstream() as upstream:
        armed = upstream.arm([token_endpoint()])

        async def send() -> None:
            http = UpstreamClient()
            await http.open()
            try:
                form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
                await TokenRequests(http, TIMEOUTS, "d").post_form(
                    f"{upstream.url}/token", {**form, "assertion": forged}, "Google"
                )
            finally:
                await http.close()

        asyncio.run(send())
    assert any("does not verify" in problem for problem in armed.problems())


def test_the_assertion_claims_and_header() -> None:
    key = service_account_key(service_account_info())
    assertion = signed_assertion(key, "https://oauth2.googleapis.com/token", ["a", "b"], 1000.7)
    claims = jwt.decode(
        assertion,
        private_key().public_key(),
        algorithms=["RS256"],
        audience="https://oauth2.googleapis.com/token",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {
        "iss": CLIENT_EMAIL,
        "scope": "a b",
        "aud": "https://oauth2.googleapis.com/token",
        "iat": 1000,
        "exp": 4600,
    }
    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}


def test_token_url_overrides_the_keys_token_uri_and_is_the_audience() -> None:
    async def fetch(url: str, requests: TokenRequests) -> None:
        credentials = inline("https://oauth2.googleapis.com/token", token_url=f"{url}/sts/token")
        assert (await token_source(credentials, requests)()).value == ACCESS_TOKEN

    # token_endpoint's check verifies that the audience is the URL the assertion reached.
    assert len(run_against([token_endpoint("/sts/token")], fetch)[0]) == 1


def test_the_key_file_is_read_and_signed_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(service_account_json())
    threads: list[threading.Thread] = []
    key = service_account_key(service_account_info())

    def load() -> Any:
        threads.append(threading.current_thread())
        return key

    async def fetch(url: str, requests: TokenRequests) -> None:
        loop_thread = threading.current_thread()
        await ServiceAccountTokens(load, f"{url}/token", [CLOUD_PLATFORM], requests)()
        assert threads and threads[0] is not loop_thread

    run_against([token_endpoint()], fetch)


def test_a_missing_key_file_is_a_sign_in_error_that_names_no_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "key.json"
    credentials = ServiceAccountCredentials(type="service_account", key_file=missing)

    async def fetch(url: str, requests: TokenRequests) -> None:
        with pytest.raises(UpstreamError) as caught:
            await token_source(credentials, requests)()
        assert caught.value.code == AUTH_FAILED
        assert "key_file cannot be read" in caught.value.message
        assert str(missing) not in caught.value.message

    assert run_against([token_endpoint()], fetch) == [[]]


def test_a_key_that_does_not_load_is_refused_without_repeating_it() -> None:
    info = {**service_account_info(), "private_key": "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n"}
    broken = ServiceAccountCredentials(type="service_account", key=orjson.dumps(info).decode())

    async def fetch(url: str, requests: TokenRequests) -> None:
        with pytest.raises(UpstreamError) as caught:
            await token_source(broken, requests)()
        assert caught.value.code == AUTH_FAILED
        assert "private_key could not be loaded" in caught.value.message
        assert "bm9wZQ" not in caught.value.message

    run_against([], fetch)


# -- the cache around it ------------------------------------------------------------------


def test_a_token_is_reused_then_refreshed_before_it_expires() -> None:
    numbers = itertools.count(1)

    def issue() -> bytes:
        return orjson.dumps({"access_token": f"ya29.tok-{next(numbers)}", "expires_in": 3599})

    now = [1000.0]

    async def use(url: str, requests: TokenRequests) -> None:
        tokens = TokenCache(token_source(inline(f"{url}/token"), requests), clock=lambda: now[0])
        assert await tokens.get() == "ya29.tok-1"
        now[0] += 3298  # more than five minutes left: reused
        assert await tokens.get() == "ya29.tok-1"
        now[0] += 2  # inside the last five minutes: refreshed ahead of expiry
        assert await tokens.get() == "ya29.tok-2"

    received = run_against([token_endpoint(builder=issue)], use)
    assert len(received[0]) == 2


def test_concurrent_callers_share_one_token_request() -> None:
    slow = token_endpoint(delay=0.3, json={"access_token": ACCESS_TOKEN, "expires_in": 3599})

    async def crowd(url: str, requests: TokenRequests) -> None:
        tokens = TokenCache(token_source(inline(f"{url}/token"), requests))
        got = await asyncio.gather(*(tokens.get() for _ in range(20)))
        assert set(got) == {ACCESS_TOKEN}

    assert len(run_against([slow], crowd)[0]) == 1


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "code", "detail"),
    [
        (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
         AUTH_FAILED, "HTTP 400, invalid_grant"),
        (401, {"error": "Not An OAuth Code <b>"}, AUTH_FAILED, "(HTTP 401)"),
        (503, {"error": "temporarily_unavailable"}, "upstream_error",
         "HTTP 503, temporarily_unavailable"),
        (200, {"token_type": "Bearer"}, "upstream_error", "without an access token"),
    ],
)  # fmt: skip
def test_refusals_become_gateway_errors_that_repeat_nothing_secret(
    status: int, body: dict[str, Any], code: str, detail: str
) -> None:
    async def fetch(url: str, requests: TokenRequests) -> None:
        with pytest.raises(UpstreamError) as caught:
            await token_source(inline(f"{url}/token"), requests)()
        message = caught.value.message
        assert caught.value.code == code
        assert detail in message and "gemini/0" in message
        assert "Signature" not in message and "eyJ" not in message

    run_against([token_endpoint(status=status, json=body)], fetch)


# -- application default credentials ------------------------------------------------------


def adc(url: str, requests: TokenRequests, environ: dict[str, str], home: Path, **keys: Any):
    config = ApplicationDefaultCredentials(**keys)
    return ApplicationDefaultTokens(config, requests, environ=environ, home=home)


def test_adc_uses_the_key_file_named_by_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(service_account_json())

    async def fetch(url: str, requests: TokenRequests) -> None:
        environ = {"GOOGLE_APPLICATION_CREDENTIALS": str(key)}
        tokens = adc(url, requests, environ, tmp_path, token_url=f"{url}/token")
        assert (await tokens()).value == ACCESS_TOKEN

    assert len(run_against([token_endpoint()], fetch)[0]) == 1


def test_adc_trades_gclouds_user_refresh_token(tmp_path: Path) -> None:
    gcloud = tmp_path / "gcloud-config"
    gcloud.mkdir()
    (gcloud / "application_default_credentials.json").write_text(orjson.dumps(USER_FILE).decode())
    refresh = Exchange.model_validate(
        {
            "request": {
                "method": "POST",
                "path": "/token",
                "form": {
                    "grant_type": "refresh_token",
                    "client_id": USER_FILE["client_id"],
                    "client_secret": USER_FILE["client_secret"],
                    "refresh_token": USER_FILE["refresh_token"],
                },
            },
            "response": {"json": {"access_token": "ya29.user", "expires_in": 3599}},
        }
    )

    async def fetch(url: str, requests: TokenRequests) -> None:
        tokens = adc(
            url, requests, {"CLOUDSDK_CONFIG": str(gcloud)}, tmp_path, token_url=f"{url}/token"
        )
        assert (await tokens()).value == "ya29.user"

    run_against([refresh], fetch)


def test_adc_finds_gclouds_file_in_the_home_folder(tmp_path: Path) -> None:
    folder = tmp_path / ".config" / "gcloud"
    folder.mkdir(parents=True)
    (folder / "application_default_credentials.json").write_text(orjson.dumps(USER_FILE).decode())
    refresh = token_endpoint(json={"access_token": "ya29.home", "expires_in": 60})
    refresh = refresh.model_copy(
        update={"request": refresh.request.model_copy(update={"check": None})}
    )

    async def fetch(url: str, requests: TokenRequests) -> None:
        tokens = adc(url, requests, {}, tmp_path, token_url=f"{url}/token")
        assert (await tokens()).value == "ya29.home"

    run_against([refresh], fetch)


def test_adc_falls_back_to_the_metadata_server(tmp_path: Path) -> None:
    metadata = Exchange.model_validate(
        {
            "request": {
                "method": "GET",
                "path": "/computeMetadata/v1/instance/service-accounts/default/token",
                "query": {"scopes": CLOUD_PLATFORM},
                "headers": {"metadata-flavor": "Google"},
            },
            "response": {"json": {"access_token": "ya29.gce", "expires_in": 1800}},
        }
    )

    async def fetch(url: str, requests: TokenRequests) -> None:
        host = url.removeprefix("http://")
        tokens = adc(url, requests, {"GCE_METADATA_HOST": host}, tmp_path)
        token = await tokens()
        assert (token.value, token.expires_in) == ("ya29.gce", 1800)

    run_against([metadata], fetch)


def test_adc_without_credentials_anywhere_says_where_it_looked(tmp_path: Path) -> None:
    async def fetch(url: str, requests: TokenRequests) -> None:
        # Port 1 on loopback: nothing listens, as off Google Cloud nothing answers.
        tokens = adc(url, requests, {}, tmp_path, metadata_url="http://127.0.0.1:1")
        with pytest.raises(UpstreamError) as caught:
            await tokens()
        assert caught.value.code == AUTH_FAILED
        assert "GOOGLE_APPLICATION_CREDENTIALS is not set" in caught.value.message

    run_against([], fetch)


@pytest.mark.parametrize(
    ("contents", "problem"),
    [
        (None, "names a file that does not exist"),
        (b"not json", "is not JSON"),
        (orjson.dumps({"type": "external_account"}), "type 'external_account' are not supported"),
        (orjson.dumps({"type": "authorized_user"}), "has no 'client_id'"),
    ],
)
def test_adc_files_that_cannot_be_used_are_sign_in_errors(
    tmp_path: Path, contents: bytes | None, problem: str
) -> None:
    path = tmp_path / "credentials.json"
    if contents is not None:
        path.write_bytes(contents)

    async def fetch(url: str, requests: TokenRequests) -> None:
        tokens = adc(url, requests, {"GOOGLE_APPLICATION_CREDENTIALS": str(path)}, tmp_path)
        with pytest.raises(UpstreamError) as caught:
            await tokens()
        assert caught.value.code == AUTH_FAILED
        assert problem in caught.value.message

    run_against([], fetch)
