"""Admin sessions: access tokens, refresh-token families, the /admin/auth routes, permissions.

Sign-in itself is a plugin's job; these tests use ``tests.plugins.trusted_sign_in`` (it signs
in any existing user) so that they exercise the core alone, over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.config import ConfigError
from gateway_core.plugins import build_plugins
from gateway_core.sessions.access_tokens import (
    AUDIENCE,
    ISSUER,
    TOKEN_TYPE,
    AccessTokenCodec,
    AccessTokenInvalid,
    claims_issuer,
)
from gateway_core.sessions.refresh_tokens import RefreshRejected, RefreshTokenStore
from gateway_core.sessions.setup import AdminAuth
from gateway_core.shared import InProcessState
from gateway_core.testing import GatewayProcess, settings_from_mapping
from tests.conftest import MASTER_KEY, install_test_plugin, plugin_env
from tests.plugins import trusted_sign_in

SECRET = "session-secret-for-tests-" + "0123456789abcdef" * 3  # 64: fine for HS512 too
COOKIE = "og_admin_session"
ADMIN_HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def good_claims(**changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "usr_1",
        "sid": "family",
        "typ": TOKEN_TYPE,
        "role": "admin",
        "team_id": None,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not ...}


# -- access tokens ---------------------------------------------------------------------------


@given(
    user_id=st.text(min_size=1, max_size=40),
    role=st.sampled_from(["admin", "viewer", "team_admin"]),
    team_id=st.none() | st.text(min_size=1, max_size=40),
)
def test_access_tokens_round_trip(user_id: str, role: str, team_id: str | None) -> None:
    codec = AccessTokenCodec(SECRET, 60)
    token, lifetime = codec.issue(
        user_id=user_id, session_id="s", role=role, team_id=team_id, email="a@b.c"
    )
    claims = codec.verify(token)
    assert (claims.user_id, claims.role, claims.team_id, lifetime) == (user_id, role, team_id, 60)


@given(
    role=st.sampled_from(["admin", "viewer", "team_admin", "owner"]),
    sub=st.text(min_size=1, max_size=20),
    team_id=st.none() | st.text(max_size=20),
)
def test_a_changed_payload_never_verifies(role: str, sub: str, team_id: str | None) -> None:
    codec = AccessTokenCodec(SECRET, 60)
    token, _ = codec.issue(user_id="usr_1", session_id="s", role="viewer", team_id=None, email="e")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed = {**claims, "role": role, "sub": sub, "team_id": team_id}
    forged = f"{header}.{b64(changed)}.{signature}"
    if changed == claims:
        assert codec.verify(forged).role == "viewer"
    else:
        with pytest.raises(AccessTokenInvalid):
            codec.verify(forged)


@given(index=st.integers(min_value=0, max_value=31), bit=st.integers(min_value=0, max_value=7))
def test_a_flipped_signature_bit_never_verifies(index: int, bit: int) -> None:
    codec = AccessTokenCodec(SECRET, 60)
    token, _ = codec.issue(user_id="usr_1", session_id="s", role="viewer", team_id=None, email="e")
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[index] ^= 1 << bit
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(AccessTokenInvalid):
        codec.verify(f"{header}.{payload}.{flipped}")


def test_expired_tokens_are_refused_as_expired() -> None:
    token = jwt.encode(good_claims(exp=int(time.time()) - 1), SECRET, algorithm="HS256")
    with pytest.raises(AccessTokenInvalid) as refused:
        AccessTokenCodec(SECRET, 60).verify(token)
    assert refused.value.expired


def unsigned_token(claims: dict) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def rsa_signed(claims: dict) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256")


FORGERIES = {
    "alg none": lambda: unsigned_token(good_claims()),
    "alg none, empty signature, upper case": lambda: unsigned_token(good_claims()).replace(
        b64({"alg": "none", "typ": "JWT"}), b64({"alg": "NONE", "typ": "JWT"})
    ),
    "HS512 with the right secret": lambda: jwt.encode(good_claims(), SECRET, algorithm="HS512"),
    "HS384 with the right secret": lambda: jwt.encode(good_claims(), SECRET, algorithm="HS384"),
    "RS256 with its own key": lambda: rsa_signed(good_claims()),
    "another secret": lambda: jwt.encode(good_claims(), "x" * 40, algorithm="HS256"),
    "another audience": lambda: jwt.encode(good_claims(aud="other"), SECRET, algorithm="HS256"),
    "another issuer": lambda: jwt.encode(good_claims(iss="other"), SECRET, algorithm="HS256"),
    "no token type": lambda: jwt.encode(good_claims(typ=...), SECRET, algorithm="HS256"),
    "another token type": lambda: jwt.encode(good_claims(typ="id"), SECRET, algorithm="HS256"),
    "no expiry": lambda: jwt.encode(good_claims(exp=...), SECRET, algorithm="HS256"),
    "no session": lambda: jwt.encode(good_claims(sid=...), SECRET, algorithm="HS256"),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=list(FORGERIES))
def test_forged_tokens_are_refused(forge) -> None:
    with pytest.raises(AccessTokenInvalid) as refused:
        AccessTokenCodec(SECRET, 60).verify(forge())
    assert not refused.value.expired


def test_only_jwt_shaped_tokens_have_an_issuer() -> None:
    assert claims_issuer("sk-gw-abc") is None
    assert claims_issuer("a.b.c") is None
    assert claims_issuer(jwt.encode({"iss": "x"}, SECRET, algorithm="HS256")) == "x"
    assert claims_issuer(unsigned_token(good_claims())) == ISSUER


# -- refresh-token families --------------------------------------------------------------------


def run(coroutine):
    return asyncio.run(coroutine)


def test_rotation_spends_each_token_once() -> None:
    async def scenario() -> None:
        store = RefreshTokenStore(InProcessState(), ttl=60)
        first, record = await store.open_family("usr_1", "test")
        assert (await store.spend(first)).family == record.family
        second = await store.issue(record)
        assert (await store.spend(second)).user_id == "usr_1"

    run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=20)), max_size=12))
def test_reusing_any_spent_token_ends_the_whole_family(steps: list[int | None]) -> None:
    """``None`` refreshes with the newest token; an integer replays the i-th spent token."""

    async def scenario() -> None:
        store = RefreshTokenStore(InProcessState(), ttl=60)
        newest, record = await store.open_family("usr_1", "test")
        spent: list[str] = []
        revoked = False
        for step in steps:
            if step is None or not spent:
                if revoked:
                    with pytest.raises(RefreshRejected):
                        await store.spend(newest)
                    continue
                await store.spend(newest)
                spent.append(newest)
                newest = await store.issue(record)
            else:
                with pytest.raises(RefreshRejected):
                    await store.spend(spent[step % len(spent)])
                revoked = True
        assert await store.family_revoked(record.family) is revoked

    run(scenario())


def test_concurrent_use_of_one_token_lets_at_most_one_through() -> None:
    async def scenario() -> list[bool]:
        store = RefreshTokenStore(InProcessState(), ttl=60)
        token, _ = await store.open_family("usr_1", "test")

        async def attempt() -> bool:
            try:
                await store.spend(token)
            except RefreshRejected:
                return False
            return True

        return await asyncio.gather(*(attempt() for _ in range(5)))

    assert sum(run(scenario())) == 1


def test_revoking_a_token_ends_its_family_and_ignores_strangers() -> None:
    async def scenario() -> None:
        store = RefreshTokenStore(InProcessState(), ttl=60)
        token, record = await store.open_family("usr_1", "test")
        assert await store.revoke("ogr_unknown") is None
        await store.revoke(token)
        assert await store.family_revoked(record.family)
        with pytest.raises(RefreshRejected):
            await store.spend(token)

    run(scenario())


# -- configuration -----------------------------------------------------------------------------


def test_admin_variables_configure_the_admin_section() -> None:
    settings = settings_from_mapping(
        {"auth": {"master_key": MASTER_KEY}},
        env={
            "ADMIN_SESSION_JWT_SECRET": SECRET,
            "ADMIN_SESSION_ACCESS_TOKEN_TTL": "5m",
            "ADMIN_SESSION_REFRESH_TOKEN_TTL": "8h",
            "ADMIN_SESSION_COOKIE_NAME": "gw_admin",
            "ADMIN_LOCAL_ENABLED": "false",
            "ADMIN_OIDC_ENABLED": "true",
            "ADMIN_OIDC_ISSUER": "https://accounts.google.com",
            "ADMIN_OIDC_CLIENT_ID": "client",
            "ADMIN_OIDC_CLIENT_SECRET": "client-secret",
            "ADMIN_OIDC_REDIRECT_URL": "https://gw.example.com/admin/auth/oidc/callback",
            "ADMIN_OIDC_SCOPES": "openid email",
            "ADMIN_OIDC_ALLOWED_DOMAINS": "example.com, example.org",
        },
    )
    admin = settings.admin
    assert admin.session_jwt_secret is not None
    assert (admin.session_access_token_ttl, admin.session_refresh_token_ttl) == (300, 28800)
    assert (admin.session_cookie_name, admin.local_enabled, admin.oidc_enabled) == (
        "gw_admin",
        False,
        True,
    )
    assert admin.oidc_scopes == ["openid", "email"]
    assert admin.oidc_allowed_domains == ["example.com", "example.org"]


def test_admin_defaults_follow_the_original_design() -> None:
    admin = settings_from_mapping({"auth": {"master_key": MASTER_KEY}}).admin
    assert (admin.session_access_token_ttl, admin.session_refresh_token_ttl) == (900, 86400)
    assert admin.session_cookie_name == COOKIE
    assert admin.local_enabled and not admin.oidc_enabled
    assert (
        "admin_session" in settings_from_mapping({"auth": {"master_key": MASTER_KEY}}).auth.methods
    )


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ({"session_jwt_secret": "short"}, "at least 32 characters"),
        ({"oidc_enabled": True}, "oidc_issuer, oidc_client_id, oidc_client_secret"),
        ({"session_access_token_ttl": "0s"}, "at least one second"),
        ({"session_cookie_name": "bad name;"}, "session_cookie_name"),
    ],
)
def test_bad_admin_settings_are_refused_without_echoing_them(admin: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({"auth": {"master_key": MASTER_KEY}, "admin": admin})
    text = str(refused.value)
    assert expected in text
    assert "short" not in text.replace("at least", "")


def build_admin_auth(config: dict) -> AdminAuth:
    settings = settings_from_mapping({"auth": {"master_key": MASTER_KEY}, **config})
    extra = {"trusted": trusted_sign_in} if "trusted" in config.get("plugins", []) else {}
    plugins = build_plugins(settings, extra)
    return AdminAuth.build(settings, plugins, InProcessState())


def test_without_sign_in_plugins_no_method_is_offered() -> None:
    admin_auth = build_admin_auth({})
    assert admin_auth.names() == [] and admin_auth.sessions is None


def test_a_sign_in_method_needs_the_session_secret() -> None:
    with pytest.raises(ConfigError) as refused:
        build_admin_auth({"plugins": ["trusted"]})
    assert "ADMIN_SESSION_JWT_SECRET" in str(refused.value)
    assert build_admin_auth(
        {"plugins": ["trusted"], "admin": {"session_jwt_secret": SECRET}}
    ).names() == ["trusted"]


def test_a_flag_without_its_plugin_names_the_plugin() -> None:
    with pytest.raises(ConfigError) as refused:
        build_admin_auth({"admin": {"session_jwt_secret": SECRET, "local_enabled": True}})
    assert "ADMIN_LOCAL_ENABLED" in str(refused.value) and "auth_local" in str(refused.value)


def test_sign_in_needs_the_session_auth_method_in_the_chain() -> None:
    with pytest.raises(ConfigError) as refused:
        build_admin_auth(
            {
                "auth": {"master_key": MASTER_KEY, "methods": ["master_key"]},
                "plugins": ["trusted"],
                "admin": {"session_jwt_secret": SECRET},
            }
        )
    assert "admin_session" in str(refused.value)


# -- over HTTP -----------------------------------------------------------------------------------


def session_config(**extra) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "admin": {"session_jwt_secret": SECRET, "session_access_token_ttl": "10m"},
        "plugins": ["trusted"],
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> GatewayProcess:
    directory = tmp_path_factory.mktemp("sessions")
    site = install_test_plugin(directory / "site", "trusted", "tests.plugins.trusted_sign_in")
    process = GatewayProcess(session_config(), directory, env=plugin_env(site))
    yield process
    process.stop()


def create_user(gateway: GatewayProcess, email: str, role: str, **extra) -> dict:
    response = httpx.post(
        f"{gateway.base_url}/admin/api/users",
        headers=ADMIN_HEADERS,
        json={"email": email, "role": role, **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()


def set_cookie(response: httpx.Response, name: str = COOKIE) -> tuple[str, str]:
    """The value and the attributes of the ``Set-Cookie`` header for ``name``."""
    for header in response.headers.get_list("set-cookie"):
        cookie, _, attributes = header.partition(";")
        key, _, value = cookie.partition("=")
        if key.strip() == name:
            return value.strip().strip('"'), attributes
    raise AssertionError(f"no {name} cookie in {response.headers}")


def sign_in(gateway: GatewayProcess, email: str) -> tuple[str, str]:
    """(access token, refresh token)."""
    response = httpx.post(f"{gateway.base_url}/admin/auth/trusted", json={"email": email})
    assert response.status_code == 200, response.text
    return response.json()["access_token"], set_cookie(response)[0]


def refresh(gateway: GatewayProcess, token: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/admin/auth/refresh", headers={"Cookie": f"{COOKIE}={token}"}
    )


def admin_api(gateway: GatewayProcess, method: str, path: str, token: str, **kwargs):
    return httpx.request(
        method,
        f"{gateway.base_url}/admin/api{path}",
        headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    )


@pytest.mark.e2e
def test_methods_lists_the_enabled_sign_in_methods(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.base_url}/admin/auth/methods")
    assert response.status_code == 200 and response.json() == ["trusted"]


@pytest.mark.e2e
def test_sign_in_answers_an_access_token_and_a_locked_down_cookie(gateway) -> None:
    user = create_user(gateway, "cookie@example.com", "viewer")
    response = httpx.post(f"{gateway.base_url}/admin/auth/trusted", json={"email": user["email"]})
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["user"] == {
        "id": user["id"],
        "email": "cookie@example.com",
        "role": "viewer",
        "team_id": None,
    }
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["role"]) == (user["id"], "viewer")
    value, attributes = set_cookie(response)
    assert value.startswith("ogr_") and value not in response.text
    lowered = attributes.lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/admin/auth", "max-age="):
        assert attribute in lowered, attribute


@pytest.mark.e2e
def test_a_viewer_session_reads_but_cannot_mutate(gateway: GatewayProcess) -> None:
    create_user(gateway, "reader@example.com", "viewer")
    access, _ = sign_in(gateway, "reader@example.com")
    assert admin_api(gateway, "GET", "/teams", access).status_code == 200
    assert admin_api(gateway, "GET", "/audit", access).status_code == 200
    for method, path, body in [
        ("POST", "/teams", {"name": "viewer-made"}),
        ("POST", "/keys", {"name": "viewer-key"}),
        ("POST", "/users", {"email": "x@example.com", "role": "admin"}),
    ]:
        response = admin_api(gateway, method, path, access, json=body)
        assert response.status_code == 403, (method, path, response.text)


@pytest.mark.e2e
def test_an_admin_session_mutates_and_is_audited_by_name(gateway: GatewayProcess) -> None:
    user = create_user(gateway, "boss@example.com", "admin")
    access, _ = sign_in(gateway, "boss@example.com")
    team = admin_api(gateway, "POST", "/teams", access, json={"name": "made-by-session"})
    assert team.status_code == 201, team.text
    entries = admin_api(
        gateway, "GET", "/audit", MASTER_KEY, params={"target_id": team.json()["id"]}
    ).json()["data"]
    assert (entries[0]["actor"], entries[0]["actor_method"]) == (user["id"], "admin_session")


@pytest.mark.e2e
def test_a_team_admin_session_is_scoped_to_its_team(gateway: GatewayProcess) -> None:
    mine = admin_api(gateway, "POST", "/teams", MASTER_KEY, json={"name": "lead-team"}).json()
    other = admin_api(gateway, "POST", "/teams", MASTER_KEY, json={"name": "other-team"}).json()
    create_user(gateway, "lead@example.com", "team_admin", team_id=mine["id"])
    access, _ = sign_in(gateway, "lead@example.com")
    assert admin_api(gateway, "POST", "/keys", access, json={"name": "ours"}).status_code == 201
    theirs = {"name": "theirs", "team_id": other["id"]}
    assert admin_api(gateway, "POST", "/keys", access, json=theirs).status_code == 403


@pytest.mark.e2e
def test_sessions_do_not_open_the_model_api(gateway: GatewayProcess) -> None:
    create_user(gateway, "nomodels@example.com", "admin")
    access, _ = sign_in(gateway, "nomodels@example.com")
    response = httpx.get(
        f"{gateway.base_url}/v1/models", headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 401


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("forge", "code"),
    [
        (lambda sub: unsigned_token(good_claims(sub=sub)), "invalid_session"),
        (
            lambda sub: jwt.encode(good_claims(sub=sub), "y" * 64, algorithm="HS256"),
            "invalid_session",
        ),
        (
            lambda sub: jwt.encode(good_claims(sub=sub), SECRET, algorithm="HS512"),
            "invalid_session",
        ),
        (
            lambda sub: jwt.encode(
                good_claims(sub=sub, exp=int(time.time()) - 5), SECRET, algorithm="HS256"
            ),
            "session_expired",
        ),
    ],
    ids=["alg none", "wrong secret", "HS512", "expired"],
)
def test_forged_and_expired_tokens_get_401(gateway: GatewayProcess, forge, code: str) -> None:
    user = create_user(gateway, f"forged-{code}-{time.monotonic_ns()}@example.com", "admin")
    response = admin_api(gateway, "GET", "/teams", forge(user["id"]))
    assert response.status_code == 401 and response.json()["error"]["code"] == code


@pytest.mark.e2e
def test_a_tampered_role_gets_401(gateway: GatewayProcess) -> None:
    create_user(gateway, "tamper@example.com", "viewer")
    access, _ = sign_in(gateway, "tamper@example.com")
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = f"{header}.{b64({**claims, 'role': 'admin'})}.{signature}"
    response = admin_api(gateway, "POST", "/teams", forged, json={"name": "tampered"})
    assert response.status_code == 401


@pytest.mark.e2e
def test_refresh_rotates_and_reuse_ends_the_family(gateway: GatewayProcess) -> None:
    create_user(gateway, "rotate@example.com", "viewer")
    access, first = sign_in(gateway, "rotate@example.com")
    renewed = refresh(gateway, first)
    assert renewed.status_code == 200, renewed.text
    second = set_cookie(renewed)[0]
    assert second != first and "refresh_token" not in renewed.json()
    assert admin_api(gateway, "GET", "/teams", renewed.json()["access_token"]).status_code == 200

    reused = refresh(gateway, first)  # a stolen copy of the spent token
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "invalid_refresh_token"
    assert refresh(gateway, second).status_code == 401  # the owner's newest token died too
    ended = admin_api(gateway, "GET", "/teams", renewed.json()["access_token"])
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "session_ended"
    assert admin_api(gateway, "GET", "/teams", access).status_code == 401


@pytest.mark.e2e
def test_refresh_from_the_body_answers_in_the_body(gateway: GatewayProcess) -> None:
    create_user(gateway, "body@example.com", "viewer")
    _, token = sign_in(gateway, "body@example.com")
    renewed = httpx.post(f"{gateway.base_url}/admin/auth/refresh", json={"refresh_token": token})
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] == set_cookie(renewed)[0] != token
    missing = httpx.post(f"{gateway.base_url}/admin/auth/refresh")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_refresh_token"


@pytest.mark.e2e
def test_logout_clears_the_cookie_and_ends_the_session(gateway: GatewayProcess) -> None:
    create_user(gateway, "bye@example.com", "viewer")
    access, token = sign_in(gateway, "bye@example.com")
    response = httpx.post(
        f"{gateway.base_url}/admin/auth/logout", headers={"Cookie": f"{COOKIE}={token}"}
    )
    assert response.status_code == 200
    value, attributes = set_cookie(response)
    assert value == "" and "max-age=0" in attributes.lower()
    assert refresh(gateway, token).status_code == 401
    assert admin_api(gateway, "GET", "/teams", access).status_code == 401


@pytest.mark.e2e
def test_role_changes_and_deactivation_apply_within_seconds(gateway: GatewayProcess) -> None:
    user = create_user(gateway, "promoted@example.com", "viewer")
    access, token = sign_in(gateway, "promoted@example.com")
    body = {"name": f"promoted-{time.monotonic_ns()}"}
    assert admin_api(gateway, "POST", "/teams", access, json=body).status_code == 403
    admin_api(gateway, "PATCH", f"/users/{user['id']}", MASTER_KEY, json={"role": "admin"})
    assert wait_for_status(gateway, access, "POST", "/teams", 201, json=body) < 6.5

    admin_api(gateway, "PATCH", f"/users/{user['id']}", MASTER_KEY, json={"is_active": False})
    assert wait_for_status(gateway, access, "GET", "/teams", 401) < 6.5
    assert refresh(gateway, token).status_code == 401


def wait_for_status(gateway, token: str, method: str, path: str, status: int, **kwargs) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 10:
        if admin_api(gateway, method, path, token, **kwargs).status_code == status:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{method} {path} never answered {status}")


@pytest.mark.e2e
def test_deleted_users_lose_their_sessions(gateway: GatewayProcess) -> None:
    user = create_user(gateway, "gone@example.com", "admin")
    access, token = sign_in(gateway, "gone@example.com")
    admin_api(gateway, "DELETE", f"/users/{user['id']}", MASTER_KEY)
    assert wait_for_status(gateway, access, "GET", "/teams", 401) < 6.5
    assert refresh(gateway, token).status_code == 401


@pytest.mark.e2e
def test_no_token_or_secret_reaches_the_log(gateway: GatewayProcess) -> None:
    create_user(gateway, "quiet@example.com", "admin")
    access, token = sign_in(gateway, "quiet@example.com")
    renewed = refresh(gateway, token)
    refresh(gateway, token)  # reuse, logged as such
    httpx.post(f"{gateway.base_url}/admin/auth/logout", headers={"Cookie": f"{COOKIE}={token}"})
    log = gateway.log()
    assert "signed in via trusted" in log  # the log is really captured
    for secret in (SECRET, access, token, renewed.json()["access_token"], set_cookie(renewed)[0]):
        assert secret not in log


def test_sign_in_disabled_answers_plainly(gateway_process, tmp_path: Path) -> None:
    process = gateway_process({"auth": {"master_key": MASTER_KEY}})
    assert httpx.get(f"{process.base_url}/admin/auth/methods").json() == []
    response = httpx.post(f"{process.base_url}/admin/auth/refresh", json={"refresh_token": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "sign_in_disabled"


@pytest.mark.e2e
def test_sessions_span_instances_sharing_redis(
    gateway_process, postgres_server, redis_server, tmp_path: Path
) -> None:
    """Sign in on one instance, refresh on another, replay on the first: the theft is seen."""
    site = install_test_plugin(tmp_path / "site", "trusted", "tests.plugins.trusted_sign_in")
    config = session_config(
        database={"url": postgres_server.create_database("admin_sessions")},
        redis={"url": redis_server.url},
    )
    first = gateway_process(config, env=plugin_env(site))
    second = gateway_process(config, env=plugin_env(site))
    create_user(first, "roaming@example.com", "viewer")
    access, token = sign_in(first, "roaming@example.com")
    assert admin_api(second, "GET", "/teams", access).status_code == 200
    renewed = refresh(second, token)
    assert renewed.status_code == 200
    assert refresh(first, token).status_code == 401
    assert refresh(second, set_cookie(renewed)[0]).status_code == 401
    assert admin_api(second, "GET", "/teams", access).status_code == 401
