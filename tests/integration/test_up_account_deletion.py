"""`healthplatform up`: the web app's "Delete my account" (issue 19 item 6) end to end:
``DELETE /v1/me/data`` then ``DELETE /account``. Afterwards the old access token is refused
by ``/v1`` and by the auth service, the refresh token is refused, no row of the user is left
in the auth database nor in the health database, no stored file of theirs is left, and the
username registers again (a new, empty account); another user's data is untouched. After
a restart (the in-memory revocation list starts empty) the old token is still refused."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from healthplatform.core.identity import user_key
from tests.integration.auth.conftest import NEW_CLIENT, AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.integration.test_up import wait_completed
from tests.support.processes import interrupt, start_up
from tests.support.services import free_port

pytestmark = pytest.mark.integration


def rows_with(db: Path, values: set[str]) -> dict[str, int]:
    """Rows of every table of an SQLite file with a column equal to one of ``values``."""
    found: dict[str, int] = {}
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                marks = ",".join("?" * len(values))
                query = (
                    f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) IN ({marks})'
                )
                count = conn.execute(query, sorted(values)).fetchone()[0]
                if count:
                    found[f"{table}.{column}"] = count
    return found


def files_of(data: Path, key: str) -> list[Path]:
    return [p for p in data.rglob("*") if key in str(p.relative_to(data))]


def subject(tokens: dict[str, Any]) -> str:
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return str(claims["sub"])


async def upload(http: httpx.AsyncClient, token: str, sample: Path) -> None:
    response = await http.post(
        "/v1/upload",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (sample.name, sample.read_bytes())},
    )
    assert response.status_code == 202, response.text
    await wait_completed(http, token, 1)


async def test_up_delete_data_then_account(tmp_path: Path, samples: list[Path]) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    data = tmp_path / "data"
    env["HP_DATA_DIR"] = str(data)
    proc, _ = start_up(env, port)
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=20, headers=NEW_CLIENT) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            device = await auth.register("alice", SoftAuthenticator(origin=origin))
            alice = await auth.login(device, "alice")
            bob_device = await auth.register("bob", SoftAuthenticator(origin=origin))
            bob = await auth.login(bob_device, "bob")
            as_alice, as_bob = auth.bearer(alice["access_token"]), auth.bearer(bob["access_token"])
            await upload(http, alice["access_token"], samples[0])
            await upload(http, bob["access_token"], samples[0])
            zone = {"zone": "Europe/Paris"}
            assert (await http.put("/v1/me/timezone", json=zone, headers=as_alice)).is_success
            bob_history = (await http.get("/v1/upload/history", headers=as_bob)).json()
            alice_sub, alice_key = subject(alice), user_key(subject(alice))
            assert rows_with(data / "health.db", {alice_key}) and files_of(data, alice_key)
            assert rows_with(data / "auth.db", {alice_sub.replace("-", "")})

            # the web app's two calls
            erased = await http.delete("/v1/me/data", headers=as_alice)
            assert erased.status_code == 200 and erased.json()["uploads_deleted"] == 1
            gone = await http.delete("/account", headers=as_alice)
            assert gone.status_code == 200, gone.text

            refused = await http.get("/v1/upload/history", headers=as_alice)
            assert refused.status_code == 401 and "revoked" in refused.text, refused.text
            assert (await http.get("/devices", headers=as_alice)).status_code == 401
            body = {"refresh_token": alice["refresh_token"]}
            assert (await http.post("/token/refresh", json=body)).status_code == 401
            request_id, options = await auth.start_login()
            signin = await auth.complete("/authenticate/complete", request_id, device.get(options))
            assert signin.status_code == 401, signin.text

            # no row of alice in either database, no file of hers but the erasure log's
            # entry (the opaque key and a time, by design: a restored backup honours it)
            assert rows_with(data / "auth.db", {alice_sub, alice_sub.replace("-", "")}) == {}
            assert rows_with(data / "health.db", {alice_key}) == {}
            left = [p for p in files_of(data, alice_key) if "erasure-log" not in p.parts]
            assert left == [], left

            # bob is untouched
            assert (await http.get("/v1/upload/history", headers=as_bob)).json() == bob_history
            assert (await http.get("/devices", headers=as_bob)).status_code == 200

            # the name is free: a new, empty account
            again = await auth.register("alice", SoftAuthenticator(origin=origin))
            reborn = await auth.login(again, "alice")
            assert subject(reborn) != alice_sub
            history = await http.get(
                "/v1/upload/history", headers=auth.bearer(reborn["access_token"])
            )
            assert history.status_code == 200 and history.json()["uploads"] == []
    finally:
        assert interrupt(proc) == 0
    proc, _ = start_up(env, port)  # a restart: the deleted account stays gone
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=20, headers=NEW_CLIENT) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            request_id, options = await auth.start_login()
            signin = await auth.complete("/authenticate/complete", request_id, device.get(options))
            assert signin.status_code == 401, signin.text
            # the in-memory list starts empty: the ended sessions are published again
            refused = await http.get("/v1/upload/history", headers=as_alice)
            assert refused.status_code == 401 and "revoked" in refused.text, refused.text
    finally:
        assert interrupt(proc) == 0
