"""`healthplatform up` (auth and API in one process, no Redis): logout and refresh-token
reuse end ``/v1`` access at once, and still after a restart (the auth service republishes
recent revocations from its database at start)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.integration.auth.conftest import NEW_CLIENT, AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.support.processes import interrupt, start_up
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def read(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/v1/upload/history", headers={"Authorization": f"Bearer {token}"})


async def test_up_logout_and_reuse_reach_the_api(tmp_path: Path) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    env["HP_DATA_DIR"] = str(tmp_path / "data")
    proc, _ = start_up(env, port)
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=10, headers=NEW_CLIENT) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            device = await auth.register("alice", SoftAuthenticator(origin=origin))
            laptop = await auth.login(device)
            assert (await read(http, laptop["access_token"])).status_code == 200
            out = await http.post("/logout", headers=auth.bearer(laptop["access_token"]))
            assert out.status_code == 200
            refused = await read(http, laptop["access_token"])
            assert refused.status_code == 401 and "revoked" in refused.text, refused.text

            phone = await auth.login(device)
            body = {"refresh_token": phone["refresh_token"]}
            rotated = (await http.post("/token/refresh", json=body)).json()["access_token"]
            assert (await read(http, rotated)).status_code == 200
            assert (await http.post("/token/refresh", json=body)).status_code == 401  # reuse
            for token in (rotated, phone["access_token"]):
                assert (await read(http, token)).status_code == 401
            # the auth service's in-cluster list is not on the public origin
            internal = await http.get("/internal/revoked-sessions")
            assert internal.status_code == 404
    finally:
        assert interrupt(proc) == 0
    proc, _ = start_up(env, port)
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=10, headers=NEW_CLIENT) as http:
            for token in (laptop["access_token"], rotated):
                response = await read(http, token)
                assert response.status_code == 401, response.text
    finally:
        assert interrupt(proc) == 0
