"""Password sign-in end to end: a real gateway, the real CLI, real HTTP on loopback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway_core.testing import GatewayProcess

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-local-master-key-0123456789"
SECRET = "local-sign-in-session-secret-" + "x" * 24
COOKIE = "og_admin_session"
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
ADMIN_PASSWORD = "admin pass phrase 4 tests"
VIEWER_PASSWORD = "viewer pass phrase 4 tests"


def local_config(**plugin: object) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY},
        "admin": {"session_jwt_secret": SECRET},
        "plugins": {
            "auth_local": {
                "argon2": CHEAP_ARGON2,
                "max_failures_per_account": 3,
                "max_failures_per_ip": 30,
                "failure_window": "1m",
                **plugin,
            }
        },
    }


def cli(
    gateway: GatewayProcess, *args: str, password: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", *args, "--config", str(gateway.config_path)],
        cwd=gateway.config_path.parent,  # the SQLite file is relative to the gateway's folder
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def login(gateway: GatewayProcess, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/admin/auth/login", json={"email": email, "password": password}
    )


def admin_api(gateway: GatewayProcess, method: str, path: str, token: str, **kwargs):
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{gateway.base_url}/admin/api{path}", headers=headers, **kwargs)


def refresh_cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";")[0]
    raise AssertionError("no refresh cookie")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> GatewayProcess:
    process = GatewayProcess(local_config(), tmp_path_factory.mktemp("local"))
    created = cli(
        process, "admin", "create-user", "--email", "Root@Example.com", "--role", "admin",
        "--password", password=ADMIN_PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    created = cli(
        process, "admin", "create-user", "--email", "viewer@example.com", "--role", "viewer",
        "--password", password=VIEWER_PASSWORD,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    yield process
    process.stop()


def test_methods_offer_local(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/admin/auth/methods").json() == ["local"]


def test_cli_created_admin_signs_in_and_uses_the_admin_api(gateway: GatewayProcess) -> None:
    response = login(gateway, "root@example.com", ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["role"] == "admin" and body["user"]["email"] == "root@example.com"
    team = admin_api(gateway, "POST", "/teams", body["access_token"], json={"name": "pw-team"})
    assert team.status_code == 201
    renewed = httpx.post(
        f"{gateway.base_url}/admin/auth/refresh",
        headers={"Cookie": f"{COOKIE}={refresh_cookie(response)}"},
    )
    assert renewed.status_code == 200 and renewed.json()["user"]["role"] == "admin"


def test_user_creation_and_passwords_are_audited_without_hashes(gateway: GatewayProcess) -> None:
    users = admin_api(gateway, "GET", "/users", MASTER_KEY).json()["data"]
    root = next(user for user in users if user["email"] == "root@example.com")
    entries = admin_api(gateway, "GET", "/audit", MASTER_KEY, params={"target_id": root["id"]})
    actions = [entry["action"] for entry in reversed(entries.json()["data"])]
    assert actions[:2] == ["user.create", "user.password_set"]
    text = entries.text
    assert "$argon2" not in text and ADMIN_PASSWORD not in text
    assert entries.json()["data"][-1]["actor"].startswith("cli:")


def test_a_viewer_signed_in_with_a_password_cannot_mutate(gateway: GatewayProcess) -> None:
    token = login(gateway, "viewer@example.com", VIEWER_PASSWORD).json()["access_token"]
    assert admin_api(gateway, "GET", "/keys", token).status_code == 200
    refused = admin_api(gateway, "POST", "/keys", token, json={"name": "nope"})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"


def test_unknown_user_and_wrong_password_get_the_same_answer(gateway: GatewayProcess) -> None:
    wrong = login(gateway, "viewer@example.com", "not the password at all")
    unknown = login(gateway, "nobody@example.com", "not the password at all")
    no_password = cli(
        gateway, "admin", "create-user", "--email", "sso@example.com", "--role", "viewer"
    )
    assert no_password.returncode == 0, no_password.stderr
    without_hash = login(gateway, "sso@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == without_hash.status_code == 401
    assert wrong.json() == unknown.json() == without_hash.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_password_reset_from_the_cli(gateway: GatewayProcess) -> None:
    created = cli(
        gateway, "admin", "create-user", "--email", "reset@example.com", "--role", "viewer",
        "--password", password="first password here",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    reset = cli(
        gateway, "admin", "set-password", "--email", "reset@example.com",
        password="second password here",
    )  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert "second password here" not in reset.stdout + reset.stderr
    assert login(gateway, "reset@example.com", "first password here").status_code == 401
    assert login(gateway, "reset@example.com", "second password here").status_code == 200
    short = cli(gateway, "admin", "set-password", "--email", "reset@example.com", password="short")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr


def test_the_cli_never_takes_a_password_from_its_arguments(gateway: GatewayProcess) -> None:
    result = cli(
        gateway, "admin", "create-user", "--email", "argv@example.com", "--role", "viewer",
        "--password", "visible-in-ps-output",
    )  # fmt: skip
    assert result.returncode != 0 and "unrecognized arguments" in result.stderr


def test_deactivated_users_cannot_sign_in(gateway: GatewayProcess) -> None:
    cli(
        gateway, "admin", "create-user", "--email", "leaver@example.com", "--role", "admin",
        "--password", password="leaver password 123",
    )  # fmt: skip
    users = admin_api(gateway, "GET", "/users", MASTER_KEY, params={"limit": 100}).json()["data"]
    leaver = next(user for user in users if user["email"] == "leaver@example.com")
    admin_api(gateway, "PATCH", f"/users/{leaver['id']}", MASTER_KEY, json={"is_active": False})
    refused = login(gateway, "leaver@example.com", "leaver password 123")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "user_inactive"


def test_brute_force_on_one_account_is_throttled(gateway: GatewayProcess) -> None:
    cli(
        gateway, "admin", "create-user", "--email", "target@example.com", "--role", "viewer",
        "--password", password="target password 123",
    )  # fmt: skip
    answers = [login(gateway, "target@example.com", f"guess {n}").status_code for n in range(3)]
    assert answers == [401, 401, 401]
    throttled = login(gateway, "target@example.com", "target password 123")
    assert throttled.status_code == 429  # even the right password waits now
    assert int(throttled.headers["retry-after"]) == 60
    assert login(gateway, "ghost@example.com", "guess").status_code == 401  # others unaffected


def test_brute_force_from_one_address_is_throttled(gateway_process) -> None:
    gateway = gateway_process(local_config(max_failures_per_ip=4, max_failures_per_account=100))
    answers = [login(gateway, f"user{n}@example.com", "guess").status_code for n in range(4)]
    assert answers == [401] * 4
    assert login(gateway, "fresh@example.com", "guess").status_code == 429


def test_hashes_are_upgraded_when_the_parameters_change(gateway_process) -> None:
    first = gateway_process(local_config())
    made = cli(
        first, "admin", "create-user", "--email", "upgrade@example.com", "--role", "admin",
        "--password", password="upgrade password 1",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    database = first.config_path.parent / "gateway.sqlite3"
    assert stored_hash(database).startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    first.stop()
    stronger = {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}
    second = gateway_process(local_config(argon2=stronger))
    assert login(second, "upgrade@example.com", "upgrade password 1").status_code == 200
    assert stored_hash(database).startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert login(second, "upgrade@example.com", "upgrade password 1").status_code == 200


def stored_hash(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        (value,) = connection.execute(
            "SELECT password_hash FROM gw_admin_user WHERE email = 'upgrade@example.com'"
        ).fetchone()
    return value


def test_sso_only_switches_password_sign_in_off(gateway_process) -> None:
    gateway = gateway_process(local_config(), env={"ADMIN_LOCAL_ENABLED": "false"})
    assert httpx.get(f"{gateway.base_url}/admin/auth/methods").json() == []
    assert login(gateway, "root@example.com", ADMIN_PASSWORD).status_code == 404


def test_no_password_or_token_reaches_the_log(gateway: GatewayProcess) -> None:
    signed_in = login(gateway, "root@example.com", ADMIN_PASSWORD)
    login(gateway, "root@example.com", "a wrong password value")
    login(gateway, "nobody-at-all@example.com", "another wrong password")
    log = gateway.log()
    assert "signed in via local" in log and "refused a password sign-in" in log
    for secret in (
        ADMIN_PASSWORD,
        VIEWER_PASSWORD,
        "a wrong password value",
        "another wrong password",
        SECRET,
        signed_in.json()["access_token"],
        refresh_cookie(signed_in),
        "$argon2",
    ):
        assert secret not in log
