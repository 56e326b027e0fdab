"""End to end: usage reports, exports and a key's own usage over real HTTP, on the SQLite file
of a running gateway into which the test writes usage records directly."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_core.testing import GatewayProcess
from gateway_core.usage.export import FIELDS
from gateway_core.usage.schemas import UsageReport
from tests.conftest import MASTER_KEY, deployment, install_test_plugin, plugin_env

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC)
TODAY = NOW.date()
SNEAKY_USER = '=HYPERLINK("http://example.com")'


def request(gateway: GatewayProcess, path: str, token: str = MASTER_KEY, **params: Any):
    return httpx.get(
        f"{gateway.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def report(gateway: GatewayProcess, token: str = MASTER_KEY, **params: Any) -> dict[str, Any]:
    response = request(gateway, "/admin/api/usage", token, **params)
    assert response.status_code == 200, response.text
    UsageReport.model_validate(response.json())
    return response.json()


def role(name: str, team: str | None = None) -> str:
    return f"role:{name}:{team or '-'}:usage-tester"


class Seeded:
    """Teams, keys and the usage records written for them."""

    def __init__(self, gateway: GatewayProcess, database: Path) -> None:
        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = httpx.post(
                f"{gateway.base_url}/admin/api{path}",
                json=body,
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            return response.json()

        self.team_a = post("/teams", {"name": "usage-a"})["id"]
        self.team_b = post("/teams", {"name": "usage-b"})["id"]
        key_a = post("/keys", {"name": "a", "team_id": self.team_a})
        key_b = post("/keys", {"name": "b", "team_id": self.team_b})
        self.key_a, self.secret_a = key_a["id"], key_a["key"]
        self.key_b = key_b["id"]
        self.rows: list[dict[str, Any]] = []
        for days_ago in range(1, 6):
            midnight = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), UTC)
            at = midnight + timedelta(hours=12)
            self.add(at, self.key_a, self.team_a, "demo", user="alice")
            self.add(at + timedelta(minutes=1), self.key_a, self.team_a, "demo", status=500)
            self.add(at, self.key_b, self.team_b, "other", user=SNEAKY_USER)
        today = datetime.combine(TODAY, datetime.min.time(), UTC)
        recent = max(NOW - timedelta(seconds=90), today)
        self.add(recent, self.key_a, self.team_a, "demo", user="bob")
        self.add(recent, "master", None, "demo")
        with sqlite3.connect(database) as connection:
            connection.executemany(
                f"INSERT INTO gw_usage_record ({', '.join(self.rows[0])}) "  # noqa: S608
                f"VALUES ({', '.join('?' for _ in self.rows[0])})",
                [tuple(row.values()) for row in self.rows],
            )

    def add(
        self,
        at: datetime,
        key: str,
        team: str | None,
        model: str,
        *,
        user: str | None = None,
        status: int = 200,
    ) -> None:
        number = len(self.rows)
        self.rows.append(
            {
                "request_id": f"e2e-{number}",
                "ts": at.isoformat(),
                "ts_epoch": int(at.timestamp()),
                "subject": key,
                "team_id": team,
                "end_user": user,
                "public_model": model,
                "deployment_id": f"{model}-0",
                "provider": "openai",
                "attempts": 1,
                "prompt_tokens": 100 if status < 400 else None,
                "completion_tokens": 20 if status < 400 else None,
                "cached_prompt_tokens": None,
                "cost_nanos": 1_500_000 if status < 400 else None,
                "latency_ms": 120.5,
                "ttft_ms": None,
                "status": status,
                "error_code": None if status < 400 else "upstream_error",
                "streamed": 0,
                "estimated": 0,
            }
        )

    def count(self, **match: Any) -> int:
        return sum(all(row[k] == v for k, v in match.items()) for row in self.rows)


@pytest.fixture(scope="module")
def gateway(mock_upstream, tmp_path_factory) -> GatewayProcess:
    directory = tmp_path_factory.mktemp("usage")
    site = install_test_plugin(directory / "site", "role_token", "tests.plugins.role_tokens")
    config = {
        "auth": {"master_key": MASTER_KEY, "methods": ["master_key", "virtual_key", "role_token"]},
        "plugins": ["role_token"],
        "database": {"sqlite_path": str(directory / "usage.sqlite3")},
        "models": [
            {"name": "demo", "deployments": [deployment(mock_upstream.base_url())]},
            {"name": "other", "deployments": [deployment(mock_upstream.base_url())]},
        ],
    }
    process = GatewayProcess(config, directory, env=plugin_env(site))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def seeded(gateway: GatewayProcess) -> Seeded:
    return Seeded(gateway, gateway.config_path.parent / "usage.sqlite3")


WEEK = {"from": (TODAY - timedelta(days=6)).isoformat(), "to": TODAY.isoformat()}


def test_report_totals_groups_and_daily_buckets(gateway, seeded: Seeded) -> None:
    data = report(gateway, **WEEK, group_by="key,model")
    assert data["totals"]["requests"] == len(seeded.rows)
    assert data["totals"]["errors"] == 5
    assert data["totals"]["unpriced_requests"] == 0  # failures that used no tokens cost nothing
    assert data["totals"]["cost_usd"] == f"{Decimal('0.0015') * (len(seeded.rows) - 5):.9f}"
    assert [b["start"][:10] for b in data["buckets"]] == [
        (TODAY - timedelta(days=n)).isoformat() for n in range(6, -1, -1)
    ]
    assert data["buckets"][-1]["totals"]["requests"] == 2  # today, from raw records
    groups = {
        (g["dimensions"]["key"], g["dimensions"]["model"]): g["requests"]
        for bucket in data["buckets"]
        for g in bucket["groups"]
    }
    assert set(groups) == {(seeded.key_a, "demo"), (seeded.key_b, "other"), ("master", "demo")}
    # Hourly in India: the same total, in local hours (which start on the half hour UTC).
    window = {"from": f"{WEEK['from']}T00:00:00Z", "to": (NOW + timedelta(hours=1)).isoformat()}
    hourly = report(gateway, **window, tz="Asia/Kolkata", bucket="hour")
    assert hourly["totals"] == data["totals"]
    assert hourly["buckets"][0]["start"].endswith("T05:30:00+05:30")
    assert all(b["start"].endswith(":00:00+05:30") for b in hourly["buckets"][1:])


def test_several_filters_count_each_request_once(gateway, seeded: Seeded) -> None:
    both = report(gateway, **WEEK, bucket="none", key=seeded.key_a, team=seeded.team_a)
    assert both["totals"]["requests"] == seeded.count(subject=seeded.key_a)
    either = report(gateway, **WEEK, bucket="none", key=f"{seeded.key_a},master", model="other")
    assert either["totals"]["requests"] == len(seeded.rows)
    assert either["filters"] == {"key": sorted([seeded.key_a, "master"]), "model": ["other"]}


def test_a_team_admin_sees_only_its_own_team(gateway, seeded: Seeded) -> None:
    lead = role("team_admin", seeded.team_a)
    data = report(gateway, lead, **WEEK, group_by="team")
    assert data["scope"] == {"team": seeded.team_a}
    assert data["totals"]["requests"] == seeded.count(team_id=seeded.team_a)
    teams = {g["dimensions"]["team"] for b in data["buckets"] for g in b["groups"]}
    assert teams == {seeded.team_a}
    assert request(gateway, "/admin/api/usage", lead, team=seeded.team_b).status_code == 403
    viewer = report(gateway, role("viewer"), **WEEK)
    assert viewer["totals"]["requests"] == len(seeded.rows)
    assert request(gateway, "/admin/api/usage", seeded.secret_a).status_code == 403
    assert request(gateway, "/admin/api/usage", "sk-nobody").status_code == 401


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"tz": "Nowhere/Special"}, "tz"),
        ({"from": "2025-03-02", "to": "2025-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2025-06-01", "bucket": "hour"}, "from"),
        ({"from": "2025-03-01T10:00"}, "from"),
        ({"group_by": "key,colour"}, "group_by"),
        ({"bucket": "fortnight"}, "bucket"),
        ({"keys": "k1"}, "keys"),
    ],
)
def test_bad_parameters_are_400s_naming_them(gateway, params, param) -> None:
    response = request(gateway, "/admin/api/usage", **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_export_streams_csv(gateway, seeded: Seeded) -> None:
    url = f"{gateway.base_url}/admin/api/usage/export"
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.stream("GET", url, params=WEEK, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "attachment" in response.headers["content-disposition"]
        text = response.read().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == FIELDS
    assert sorted(row["request_id"] for row in rows) == sorted(r["request_id"] for r in seeded.rows)
    assert [row["ts"] for row in rows] == sorted(row["ts"] for row in rows)
    sneaky = [row["user"] for row in rows if row["key"] == seeded.key_b]
    assert sneaky and all(user == "'" + SNEAKY_USER for user in sneaky), "no formula in a cell"
    failed = next(row for row in rows if row["status"] == "500")
    assert failed["cost_usd"] == "" and failed["error_code"] == "upstream_error"


def test_export_streams_json_lines_with_filters_and_scope(gateway, seeded: Seeded) -> None:
    response = request(
        gateway,
        "/admin/api/usage/export",
        **WEEK,
        format="json",
        tz="Europe/Paris",
        key=seeded.key_b,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    records = [json.loads(line) for line in response.text.splitlines()]
    assert len(records) == seeded.count(subject=seeded.key_b)
    assert all(set(r) == set(FIELDS) and r["key"] == seeded.key_b for r in records)
    assert records[0]["cost_usd"] == "0.001500000" and records[0]["ts"][-6:] in ("+01:00", "+02:00")
    lead = role("team_admin", seeded.team_a)
    scoped = request(gateway, "/admin/api/usage/export", lead, **WEEK, format="json")
    teams = {json.loads(line)["team"] for line in scoped.text.splitlines()}
    assert teams == {seeded.team_a}
    assert request(gateway, "/admin/api/usage/export", format="xml").status_code == 400


def test_a_key_reads_its_own_usage(gateway, seeded: Seeded) -> None:
    response = request(gateway, "/v1/usage", seeded.secret_a, **WEEK, group_by="user")
    assert response.status_code == 200, response.text
    data = UsageReport.model_validate(response.json()).model_dump(by_alias=True)
    assert data["scope"] == {"key": seeded.key_a}
    assert data["totals"]["requests"] == seeded.count(subject=seeded.key_a)
    users = {g["dimensions"]["user"] for b in data["buckets"] for g in b["groups"]}
    assert users == {"alice", "bob", None}
    master = request(gateway, "/v1/usage", **WEEK, bucket="none").json()
    assert master["totals"]["requests"] == seeded.count(subject="master")
    refused = request(gateway, "/v1/usage", seeded.secret_a, key=seeded.key_b)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "key"
    assert request(gateway, "/v1/usage").status_code == 200  # the master key: defaults
    assert httpx.get(f"{gateway.base_url}/v1/usage", timeout=10).status_code == 401


def test_usage_operations_are_in_the_openapi_document(gateway) -> None:
    document = httpx.get(f"{gateway.base_url}/admin/api/openapi.json", timeout=10).json()
    report_op = document["paths"]["/admin/api/usage"]["get"]
    names = {p["name"] for p in report_op["parameters"]}
    assert {"from", "to", "tz", "bucket", "group_by", "key", "team", "user"} <= names
    schema = report_op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/UsageReport"}
    export_op = document["paths"]["/admin/api/usage/export"]["get"]
    assert "format" in {p["name"] for p in export_op["parameters"]}
