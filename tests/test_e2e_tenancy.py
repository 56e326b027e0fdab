"""End to end: virtual keys, teams, admin users and the audit log over real HTTP (SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest

from gateway_core.testing import GatewayProcess
from tests.conftest import MASTER_KEY, MockUpstream, deployment, install_test_plugin, plugin_env

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}


def tenancy_config(upstream: MockUpstream, **extra) -> dict:
    return {
        "auth": {"master_key": MASTER_KEY, "methods": ["master_key", "virtual_key", "role_token"]},
        "plugins": ["role_token"],
        "models": [
            {"name": "demo", "deployments": [deployment(upstream.base_url())]},
            {"name": "other", "deployments": [deployment(upstream.base_url())]},
        ],
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(mock_upstream, tmp_path_factory) -> GatewayProcess:
    directory = tmp_path_factory.mktemp("tenancy")
    site = install_test_plugin(directory / "site", "role_token", "tests.plugins.role_tokens")
    process = GatewayProcess(tenancy_config(mock_upstream), directory, env=plugin_env(site))
    yield process
    process.stop()


def admin(gateway: GatewayProcess, method: str, path: str, token: str = MASTER_KEY, **kwargs):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return httpx.request(
        method, f"{gateway.base_url}/admin/api{path}", headers=headers, timeout=10, **kwargs
    )


def ask(gateway: GatewayProcess, key: str, model: str = "demo") -> str:
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return reply.choices[0].message.content


def test_key_lifecycle_with_the_openai_sdk(gateway: GatewayProcess) -> None:
    team = admin(gateway, "POST", "/teams", json={"name": "lifecycle", "allowed_models": ["demo"]})
    assert team.status_code == 201, team.text
    created = admin(gateway, "POST", "/keys", json={"name": "app", "team_id": team.json()["id"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("sk-gw-") and created.json()["display_prefix"] == key[:12]
    assert "key" not in admin(gateway, "GET", f"/keys/{created.json()['id']}").json()

    assert ask(gateway, key)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        ask(gateway, key, model="other")
    assert denied.value.body["code"] == "model_not_allowed"

    revoked = admin(gateway, "POST", f"/keys/{created.json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    started = time.monotonic()
    while True:
        try:
            ask(gateway, key)
        except openai.AuthenticationError as exc:
            assert "revoked" in exc.message
            break
        assert time.monotonic() - started < 1.0, "a revoked key kept working past one second"
        time.sleep(0.05)


def test_unknown_and_expired_keys_get_distinct_401s(gateway: GatewayProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as unknown:
        ask(gateway, "sk-gw-" + "A" * 43)
    assert unknown.value.body["message"] == "Invalid API key."
    past = admin(
        gateway, "POST", "/keys", json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"}
    ).json()
    with pytest.raises(openai.AuthenticationError) as expired:
        ask(gateway, past["key"])
    assert "expired" in expired.value.message


def test_rotation_replaces_the_secret(gateway: GatewayProcess) -> None:
    created = admin(gateway, "POST", "/keys", json={"name": "rotating"}).json()
    rotated = admin(gateway, "POST", f"/keys/{created['id']}/rotate")
    assert rotated.status_code == 200
    new_key = rotated.json()["key"]
    assert new_key != created["key"] and ask(gateway, new_key)
    with pytest.raises(openai.AuthenticationError):
        ask(gateway, created["key"])


def test_every_mutation_is_audited_without_secrets(gateway: GatewayProcess) -> None:
    team = admin(
        gateway,
        "POST",
        "/teams",
        json={"name": "audited"},
        headers={"X-Request-ID": "audit-trace-1"},
    ).json()
    admin(gateway, "PATCH", f"/teams/{team['id']}", json={"allowed_models": ["demo"]})
    key = admin(gateway, "POST", "/keys", json={"name": "k", "team_id": team["id"]}).json()
    admin(gateway, "PATCH", f"/keys/{key['id']}", json={"name": "renamed"})
    admin(gateway, "POST", f"/keys/{key['id']}/rotate")
    admin(gateway, "POST", f"/keys/{key['id']}/revoke")
    user = admin(gateway, "POST", "/users", json={"email": "Ops@Example.com", "role": "viewer"})
    admin(gateway, "PATCH", f"/users/{user.json()['id']}", json={"role": "admin"})
    admin(gateway, "DELETE", f"/users/{user.json()['id']}")

    entries = admin(gateway, "GET", "/audit", params={"limit": 100}).json()["data"]
    mine = [e for e in entries if e["target_id"] in (team["id"], key["id"], user.json()["id"])]
    actions = [e["action"] for e in reversed(mine)]
    assert actions == [
        "team.create",
        "team.update",
        "key.create",
        "key.update",
        "key.rotate",
        "key.revoke",
        "user.create",
        "user.update",
        "user.delete",
    ]
    first = mine[-1]
    assert first["actor"] == "master" and first["request_id"] == "audit-trace-1"
    update = next(e for e in mine if e["action"] == "team.update")
    assert update["before"]["allowed_models"] == [] and update["after"]["allowed_models"] == [
        "demo"
    ]
    text = str(entries)
    assert key["key"] not in text and "key_hash" not in text


def test_listing_is_paginated_and_filtered_by_team(gateway: GatewayProcess) -> None:
    team = admin(gateway, "POST", "/teams", json={"name": "paged"}).json()
    made = [
        admin(gateway, "POST", "/keys", json={"name": f"p{i}", "team_id": team["id"]}).json()
        for i in range(5)
    ]
    seen, after = [], None
    while True:
        params = {"team_id": team["id"], "limit": 2, **({"after": after} if after else {})}
        page = admin(gateway, "GET", "/keys", params=params).json()
        seen += [key["id"] for key in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert sorted(seen) == sorted(key["id"] for key in made)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "rpm_limit": -1}, "rpm_limit"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_admin_bodies_are_400_naming_the_field(gateway, body, param) -> None:
    response = admin(gateway, "POST", "/keys", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_conflicts_and_missing_things(gateway: GatewayProcess) -> None:
    admin(gateway, "POST", "/teams", json={"name": "twice"})
    assert admin(gateway, "POST", "/teams", json={"name": "twice"}).status_code == 409
    assert admin(gateway, "GET", "/teams/team_missing").status_code == 404
    team = admin(gateway, "POST", "/teams", json={"name": "busy"}).json()
    admin(gateway, "POST", "/keys", json={"name": "k", "team_id": team["id"]})
    assert admin(gateway, "DELETE", f"/teams/{team['id']}").status_code == 409
    assert (
        admin(gateway, "POST", "/keys", json={"name": "k", "team_id": "team_x"}).status_code == 404
    )


# -- permissions ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def teams(gateway: GatewayProcess) -> dict[str, str]:
    mine = admin(gateway, "POST", "/teams", json={"name": "perm-mine"}).json()["id"]
    theirs = admin(gateway, "POST", "/teams", json={"name": "perm-theirs"}).json()["id"]
    return {"mine": mine, "theirs": theirs}


def token(role: str, team: str | None = None) -> str:
    return f"role:{role}:{team or '-'}:tester"


def test_viewer_reads_everything_and_changes_nothing(gateway, teams) -> None:
    viewer = token("viewer")
    for path in (
        "/teams",
        "/keys",
        "/users",
        "/audit",
        "/deployments",
        f"/teams/{teams['theirs']}",
    ):
        assert admin(gateway, "GET", path, viewer).status_code == 200, path
    for method, path, body in [
        ("POST", "/teams", {"name": "nope"}),
        ("PATCH", f"/teams/{teams['mine']}", {"name": "nope"}),
        ("POST", "/keys", {"name": "nope"}),
        ("POST", "/users", {"email": "a@b.c", "role": "viewer"}),
    ]:
        response = admin(gateway, method, path, viewer, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["type"] == "permission_error"


def test_team_admin_manages_only_its_own_team(gateway, teams) -> None:
    lead = token("team_admin", teams["mine"])
    own = admin(gateway, "POST", "/keys", lead, json={"name": "ours"})
    assert own.status_code == 201 and own.json()["team_id"] == teams["mine"]
    assert admin(gateway, "POST", f"/keys/{own.json()['id']}/revoke", lead).status_code == 200
    other = admin(gateway, "POST", "/keys", json={"name": "theirs", "team_id": teams["theirs"]})
    assert (
        admin(
            gateway, "POST", "/keys", lead, json={"name": "x", "team_id": teams["theirs"]}
        ).status_code
        == 403
    )
    assert admin(gateway, "GET", f"/keys/{other.json()['id']}", lead).status_code == 403
    assert admin(gateway, "POST", f"/keys/{other.json()['id']}/revoke", lead).status_code == 403
    listed = admin(gateway, "GET", "/keys", lead).json()["data"]
    assert listed and {key["team_id"] for key in listed} == {teams["mine"]}
    assert [t["id"] for t in admin(gateway, "GET", "/teams", lead).json()["data"]] == [
        teams["mine"]
    ]
    assert admin(gateway, "POST", "/teams", lead, json={"name": "new"}).status_code == 403
    assert (
        admin(gateway, "POST", "/users", lead, json={"email": "x@y.z", "role": "admin"}).status_code
        == 403
    )
    audit = admin(gateway, "GET", "/audit", lead).json()["data"]
    assert audit and {entry["team_id"] for entry in audit} == {teams["mine"]}


def test_keys_and_strangers_get_no_admin_access(gateway) -> None:
    key = admin(gateway, "POST", "/keys", json={"name": "client"}).json()["key"]
    assert admin(gateway, "GET", "/teams", key).status_code == 403
    assert admin(gateway, "GET", "/teams", "sk-not-a-key").status_code == 401


# -- the API document ----------------------------------------------------------------------


def test_openapi_document_and_docs_page(gateway: GatewayProcess) -> None:
    document = httpx.get(f"{gateway.base_url}/admin/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/admin/api/keys", "/admin/api/keys/{key_id}/rotate", "/admin/api/audit"} <= set(
        document["paths"]
    )
    page = httpx.get(f"{gateway.base_url}/admin/api/docs")
    assert page.status_code == 200 and "openapi.json" in page.text


def test_cli_manages_keys_and_teams(tmp_path: Path, gateway_process, mock_upstream) -> None:
    import subprocess
    import sys

    config = {
        "auth": {"master_key": MASTER_KEY},
        "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())]}],
    }
    process = gateway_process(config)

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "gateway_core.cli", *args, "--config", str(process.config_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    team_id = cli("teams", "create", "--name", "cli-team").split("id: ")[1].strip()
    assert team_id in cli("teams", "list")
    output = cli("keys", "create", "--name", "cli-key", "--team", team_id)
    key = output.split("key: ")[1].split()[0]
    key_id = output.split("id:  ")[1].split()[0]
    assert ask(process, key)
    assert key_id in cli("keys", "list", "--team", team_id)
    cli("keys", "revoke", key_id)
    with pytest.raises(openai.AuthenticationError):
        time.sleep(1.1)  # no Redis here: the worker's cache forgets within a second
        ask(process, key)
    assert "applied" in cli("db", "status")


def test_schemathesis_finds_no_server_error_and_no_off_schema_response(
    gateway_process, mock_upstream, tmp_path: Path
) -> None:
    """Property-based run over every admin operation (fixed seed, so CI is repeatable)."""
    import subprocess
    import sys

    process = gateway_process(
        {
            "auth": {"master_key": MASTER_KEY},
            "models": [{"name": "demo", "deployments": [deployment(mock_upstream.base_url())]}],
        }
    )
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{process.base_url}/admin/api/openapi.json",
        "--url",
        process.base_url,
        "-H",
        f"Authorization: Bearer {MASTER_KEY}",
        "--checks",
        "not_a_server_error,status_code_conformance,response_schema_conformance,"
        "content_type_conformance",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "25",
        "--seed",
        "20261122",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "passed" in result.stdout


def test_team_budget_and_time_zone(gateway: GatewayProcess) -> None:
    team = admin(
        gateway,
        "POST",
        "/teams",
        json={"name": "zoned", "budget_usd": "250.5", "timezone": "Asia/Kathmandu"},
    )
    assert team.status_code == 201, team.text
    assert team.json()["timezone"] == "Asia/Kathmandu"
    assert float(team.json()["budget_usd"]) == 250.5
    bad = admin(gateway, "PATCH", f"/teams/{team.json()['id']}", json={"timezone": "Mars/Base"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "timezone"
