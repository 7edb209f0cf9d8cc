"""`healthplatform up`: the whole platform in one process under one origin, on the
embedded backends; ready fast, Ctrl-C stops it cleanly, data survives a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.auth.conftest import AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.support.processes import EXE, interrupt, start_up
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def wait_completed(http: httpx.AsyncClient, token: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    for _ in range(300):
        history = (
            await http.get(
                "/v1/upload/history?limit=100", headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        uploads = history["uploads"]
        if len(uploads) == count and all(u["status"] == "completed" for u in uploads):
            return uploads
        await asyncio.sleep(0.2)
    raise AssertionError(f"uploads not completed: {history}")


async def test_up_one_origin_restart_and_demo(tmp_path: Path, samples: list[Path]) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    env["HP_DATA_DIR"] = str(tmp_path / "data")
    proc, ready_after = start_up(env, port)
    try:
        assert ready_after < 30, f"ready after {ready_after:.1f} s"
        async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            device = await auth.register("alice", SoftAuthenticator(origin=origin))
            token = (await auth.login(device))["access_token"]  # usernameless
            response = await http.post(
                "/v1/upload",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (samples[0].name, samples[0].read_bytes())},
            )
            assert response.status_code == 202, response.text
            [done] = await wait_completed(http, token, 1)
            assert done["narrative_preview"]
            # `up` serves both OpenAPI documents (the auth one at /auth/openapi.json) and
            # no /docs or /redoc pages (they would load script from a CDN)
            auth_doc = (await http.get("/auth/openapi.json")).json()
            assert "/authenticate/complete" in auth_doc["paths"]
            assert "/v1/upload" in (await http.get("/openapi.json")).json()["paths"]
            for page in ("/docs", "/redoc"):
                assert (await http.get(page)).status_code == 404
        data = tmp_path / "data"  # private files in a private folder
        assert data.stat().st_mode & 0o777 == 0o700
        for name in ("health.db", "auth.db"):
            assert (data / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        assert interrupt(proc) == 0

    proc, _ = start_up(env, port)  # data survives a restart
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            token = (await auth.login(device, "alice"))["access_token"]
            demo = subprocess.run(
                [
                    EXE,
                    "demo",
                    "--username",
                    "alice",
                    "--samples",
                    str(samples[0].parent),
                    "--port",
                    str(port),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert demo.returncode == 0, demo.stderr
            assert f"{len(samples) - 1} new uploads, 1 already there" in demo.stderr
            await wait_completed(http, token, len(samples))
            unknown = subprocess.run(
                [EXE, "demo", "--username", "nobody"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert unknown.returncode == 1 and "sign up" in unknown.stderr
    finally:
        assert interrupt(proc) == 0
