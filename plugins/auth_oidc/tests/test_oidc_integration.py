"""Identity-provider sign-in end to end, against a real OpenID provider on loopback.

The provider (``oidc_test_provider``) is authlib's server side with an RSA key made for this
run; the gateway runs as a real ``gateway serve`` process. The test plays the browser: it
follows the redirects itself, carrying the cookies the gateway set.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidc_test_provider import LoopbackProvider, unsigned

from gateway_core.testing import GatewayProcess
from gateway_core.testservers import RedisServer

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-oidc-master-key-0123456789"
SECRET = "oidc-sign-in-session-secret-" + "y" * 24
COOKIE = "og_admin_session"
BINDING = f"{COOKIE}_oidc"
# The gateway's port is chosen when it starts, after its config is written; the test browser
# carries the provider's answer to the real address itself, so any loopback URL works here.
REDIRECT_URL = "http://127.0.0.1/admin/auth/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[LoopbackProvider]:
    started = LoopbackProvider().start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def well_behaved(provider: LoopbackProvider) -> None:
    provider.reset()


def oidc_config(provider: LoopbackProvider, client_secret: str, client_id: str, **extra) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "admin": {
            "session_jwt_secret": SECRET,
            "oidc_enabled": True,
            "oidc_issuer": provider.issuer,
            "oidc_client_id": client_id,
            "oidc_client_secret": client_secret,
            "oidc_redirect_url": REDIRECT_URL,
            "oidc_allowed_domains": "acme.test, acme.example",
        },
        "plugins": {
            "auth_local": {"argon2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}},
            "auth_oidc": {"roles": {"boss@acme.test": "admin"}},
        },
        **extra,
    }


@pytest.fixture(scope="module")
def client(provider: LoopbackProvider):
    return provider.register_client(REDIRECT_URL)


@pytest.fixture(scope="module")
def gateway(provider, client, tmp_path_factory) -> Iterator[GatewayProcess]:
    config = oidc_config(provider, client.client_secret, client.client_id)
    process = GatewayProcess(config, tmp_path_factory.mktemp("oidc"))
    yield process
    process.stop()


def cookie_value(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";")[0]
    return None


class Browser:
    """Follows the sign-in redirects by hand, keeping what a browser would keep."""

    def __init__(self, gateway: GatewayProcess, provider: LoopbackProvider) -> None:
        self.gateway = gateway
        self.provider = provider

    def start(self) -> tuple[httpx.Response, str]:
        started = httpx.get(f"{self.gateway.base_url}/admin/auth/oidc/start")
        assert started.status_code == 302, started.text
        binding = cookie_value(started, BINDING)
        assert binding
        return started, binding

    def authorize(self, started: httpx.Response, email: str) -> str:
        """The provider's redirect back to us: its query string (code and state)."""
        self.provider.sign_in_as(email)
        answer = httpx.get(started.headers["location"])
        assert answer.status_code == 302, answer.text
        return urlsplit(answer.headers["location"]).query

    def callback(self, query: str, binding: str | None) -> httpx.Response:
        headers = {"Cookie": f"{BINDING}={binding}"} if binding else {}
        return httpx.get(
            f"{self.gateway.base_url}/admin/auth/oidc/callback?{query}", headers=headers
        )

    def sign_in(self, email: str) -> httpx.Response:
        started, binding = self.start()
        return self.callback(self.authorize(started, email), binding)


@pytest.fixture
def browser(gateway, provider) -> Browser:
    return Browser(gateway, provider)


def admin_api(gateway: GatewayProcess, method: str, path: str, token: str, **kwargs):
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{gateway.base_url}/admin/api{path}", headers=headers, **kwargs)


def users_named(gateway: GatewayProcess, email: str) -> list[dict]:
    users = admin_api(gateway, "GET", "/users", MASTER_KEY, params={"limit": 100}).json()["data"]
    return [user for user in users if user["email"] == email]


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# -- the flow ----------------------------------------------------------------------------------


def test_methods_lists_both_sign_in_plugins(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/admin/auth/methods").json() == ["local", "oidc"]


def test_start_redirects_with_pkce_state_and_nonce(browser: Browser, client) -> None:
    started, _ = browser.start()
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [client.client_id]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    attributes = next(
        h for h in started.headers.get_list("set-cookie") if h.startswith(BINDING)
    ).lower()
    for attribute in ("httponly", "secure", "samesite=lax", "path=/admin/auth/oidc"):
        assert attribute in attributes


def test_first_sign_in_provisions_a_viewer_who_cannot_mutate(browser, gateway) -> None:
    signed_in = browser.sign_in("New.Person@acme.test")
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["user"]["email"] == "new.person@acme.test" and body["user"]["role"] == "viewer"
    assert cookie_value(signed_in, COOKIE)
    token = body["access_token"]
    assert admin_api(gateway, "GET", "/teams", token).status_code == 200
    assert admin_api(gateway, "POST", "/teams", token, json={"name": "sso"}).status_code == 403
    (user,) = users_named(gateway, "new.person@acme.test")
    audit = admin_api(gateway, "GET", "/audit", MASTER_KEY, params={"target_id": user["id"]})
    (created,) = audit.json()["data"]
    assert (created["action"], created["actor"]) == ("user.create", "oidc-provisioning")

    again = browser.sign_in("new.person@acme.test")  # the second time finds the same user
    assert again.json()["user"]["id"] == user["id"]


def test_mapped_users_get_their_configured_role(browser, gateway) -> None:
    signed_in = browser.sign_in("boss@acme.test")
    assert signed_in.json()["user"]["role"] == "admin"
    team = admin_api(
        gateway, "POST", "/teams", signed_in.json()["access_token"], json={"name": "b"}
    )
    assert team.status_code == 201


def test_the_session_refreshes_like_any_other(browser, gateway) -> None:
    signed_in = browser.sign_in("refresher@acme.example")
    renewed = httpx.post(
        f"{gateway.base_url}/admin/auth/refresh",
        headers={"Cookie": f"{COOKIE}={cookie_value(signed_in, COOKIE)}"},
    )
    assert (
        renewed.status_code == 200 and renewed.json()["user"]["email"] == "refresher@acme.example"
    )


# -- what must be refused ------------------------------------------------------------------------


def test_a_replayed_state_is_refused(browser: Browser) -> None:
    started, binding = browser.start()
    query = browser.authorize(started, "replay@acme.test")
    assert browser.callback(query, binding).status_code == 200
    replayed = browser.callback(query, binding)
    assert replayed.status_code == 400 and error_code(replayed) == "invalid_state"


def test_an_unknown_state_is_refused(browser: Browser) -> None:
    started, binding = browser.start()
    query = browser.authorize(started, "unknown-state@acme.test")
    forged = query.replace("state=", "state=x")
    refused = browser.callback(forged, binding)
    assert refused.status_code == 400 and error_code(refused) == "invalid_state"


def test_a_callback_in_another_browser_is_refused(browser: Browser) -> None:
    started, _ = browser.start()
    query = browser.authorize(started, "victim@acme.test")
    refused = browser.callback(query, binding=None)
    assert refused.status_code == 400 and error_code(refused) == "invalid_state"


def b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def retarget(id_token: str) -> str:
    """Change the claims but keep the provider's signature."""
    header, claims, signature = id_token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=="))
    return f"{header}.{b64({**decoded, 'email': 'boss@acme.test'})}.{signature}"


@pytest.mark.parametrize(
    ("misbehave", "case"),
    [
        ({"claim_overrides": {"nonce": "not-the-nonce-we-sent"}}, "wrong nonce"),
        ({"claim_overrides": {"aud": ["someone-else"]}}, "wrong audience"),
        ({"claim_overrides": {"iss": "https://evil.example"}}, "wrong issuer"),
        ({"claim_overrides": {"exp": int(time.time()) - 3600}}, "expired"),
        ({"id_token_transform": unsigned}, "alg none"),
        ({"id_token_transform": retarget}, "tampered"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_untrustworthy_id_tokens_are_refused(browser, provider, misbehave: dict, case: str) -> None:
    for name, value in misbehave.items():
        setattr(provider, name, value)
    refused = browser.sign_in(f"victim-{case.replace(' ', '-')}@acme.test")
    assert refused.status_code == 401, (case, refused.text)
    assert error_code(refused) == "oidc_failed"
    assert "access_token" not in refused.text and cookie_value(refused, COOKIE) is None


def test_a_disallowed_domain_is_refused_and_not_provisioned(browser, gateway) -> None:
    refused = browser.sign_in("intruder@gmail.example")
    assert refused.status_code == 403 and error_code(refused) == "domain_not_allowed"
    assert users_named(gateway, "intruder@gmail.example") == []
    sub_domain = browser.sign_in("someone@eu.acme.test")
    assert sub_domain.status_code == 403


def test_an_unverified_email_is_refused(browser, provider) -> None:
    provider.claim_overrides = {"email_verified": False}
    refused = browser.sign_in("unverified@acme.test")
    assert refused.status_code == 401 and error_code(refused) == "oidc_no_email"


def test_a_provider_error_is_reported_without_echoing_it(browser: Browser) -> None:
    started, binding = browser.start()
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    refused = browser.callback(f"error=access_denied&state={state}", binding)
    assert refused.status_code == 401 and "access_denied" in refused.json()["error"]["message"]
    odd = browser.callback("error=<script>&state=x", binding)
    assert "<script>" not in odd.text


def test_a_deactivated_user_cannot_sign_in(browser, gateway) -> None:
    assert browser.sign_in("leaver@acme.test").status_code == 200
    (user,) = users_named(gateway, "leaver@acme.test")
    admin_api(gateway, "PATCH", f"/users/{user['id']}", MASTER_KEY, json={"is_active": False})
    refused = browser.sign_in("leaver@acme.test")
    assert refused.status_code == 401 and error_code(refused) == "user_inactive"


def test_no_secret_code_or_token_reaches_the_log(browser, gateway, provider, client) -> None:
    started, binding = browser.start()
    query = browser.authorize(started, "quiet@acme.test")
    signed_in = browser.callback(query, binding)
    provider.claim_overrides = {"nonce": "wrong"}
    browser.sign_in("quiet@acme.test")
    code = parse_qs(query)["code"][0]
    log = gateway.log()
    assert "signed in via oidc" in log and "refused an OIDC sign-in" in log
    for secret in (
        client.client_secret,
        SECRET,
        code,
        binding,
        signed_in.json()["access_token"],
        cookie_value(signed_in, COOKIE),
    ):
        assert secret not in log


def test_sign_in_state_is_shared_through_redis(provider, client, gateway_process) -> None:
    """Started on one instance, finished on another; the state still works exactly once."""
    with RedisServer() as redis:
        config = oidc_config(
            provider, client.client_secret, client.client_id, redis={"url": redis.url}
        )
        first, second = gateway_process(config), gateway_process(config)
        started, binding = Browser(first, provider).start()
        query = Browser(first, provider).authorize(started, "roaming@acme.test")
        assert Browser(second, provider).callback(query, binding).status_code == 200
        assert Browser(first, provider).callback(query, binding).status_code == 400
