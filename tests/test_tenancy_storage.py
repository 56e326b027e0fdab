"""What the database holds: never a raw key, whatever sequence of key operations ran."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_core import db
from gateway_core.api import Identity
from gateway_core.gateway import Gateway
from gateway_core.tenancy.keys import hash_key, looks_like_key
from gateway_core.tenancy.schemas import KeyCreate, KeyUpdate, TeamCreate
from gateway_core.tenancy.service import Actor
from gateway_core.testing import settings_from_mapping
from tests.conftest import MASTER_KEY

ADMIN = Actor(Identity(subject="test-admin", method="test", role="admin"), "req-prop")

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.text(min_size=1, max_size=20),
            st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3),
        ),
        st.tuples(st.just("rotate"), st.integers(0, 10)),
        st.tuples(st.just("revoke"), st.integers(0, 10)),
        st.tuples(st.just("rename"), st.integers(0, 10), st.text(min_size=1, max_size=20)),
    ),
    min_size=1,
    max_size=12,
)


async def run_operations(
    directory: Path, steps: list[tuple]
) -> tuple[list[str], dict[str, str], str, bytes]:
    config = {
        "auth": {"master_key": MASTER_KEY},
        "database": {"sqlite_path": str(directory / "gateway.sqlite3")},
    }
    gateway = Gateway(settings_from_mapping(config))
    await gateway.open_storage()
    try:
        service = gateway.tenancy
        team = await service.create_team(ADMIN, TeamCreate(name="property"))
        secrets: list[str] = []
        ids: list[str] = []
        current: dict[str, str] = {}
        for step in steps:
            if step[0] == "create":
                created = await service.create_key(
                    ADMIN, KeyCreate(name=step[1], team_id=team["id"], metadata=step[2])
                )
                secrets.append(created["key"])
                ids.append(created["id"])
                current[created["id"]] = created["key"]
            elif ids and step[0] == "rotate":
                key_id = ids[step[1] % len(ids)]
                try:
                    secrets.append((await service.rotate_key(ADMIN, key_id))["key"])
                    current[key_id] = secrets[-1]
                except Exception as exc:  # rotating a revoked key is refused, by design
                    assert "revoked" in str(exc)
            elif ids and step[0] == "revoke":
                await service.revoke_key(ADMIN, ids[step[1] % len(ids)])
            elif ids and step[0] == "rename":
                await service.update_key(ADMIN, ids[step[1] % len(ids)], KeyUpdate(name=step[2]))
        connection = db.connection(gateway.settings.database)
        dump = []
        for table in (
            "gw_team",
            "gw_api_key",
            "gw_admin_user",
            "gw_audit_entry",
            "gw_system_secret",
            "aerich",
        ):
            _, rows = await connection.execute_query(f'SELECT * FROM "{table}"')  # noqa: S608
            dump += [str(dict(row)) for row in rows]
        return secrets, current, "\n".join(dump), gateway.key_cache.secret
    finally:
        await gateway.close_storage()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=operations)
def test_no_stored_field_ever_contains_a_raw_key(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        secrets, current, dump, hmac_secret = asyncio.run(run_operations(Path(directory), steps))
    for secret in secrets:
        assert looks_like_key(secret)
        assert secret not in dump
        assert secret[len("sk-gw-") :] not in dump
    for secret in current.values():
        # What is stored for each key is the keyed hash of its current secret.
        assert hash_key(hmac_secret, secret) in dump
