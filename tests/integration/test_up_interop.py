"""`healthplatform up` serves /mcp on its one origin with the auth service's real tokens,
and `healthplatform export --format fhir` writes the person's bundle (embedded backends)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.integration.auth.conftest import AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.integration.mcp_client import assistant
from tests.integration.test_up import wait_completed
from tests.support.processes import EXE, interrupt, start_up
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def test_up_serves_mcp_and_the_cli_exports_fhir(tmp_path: Path, samples: list[Path]) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    env["HP_DATA_DIR"] = str(tmp_path / "data")
    proc, _ = start_up(env, port)
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=30) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            device = await auth.register("carol", SoftAuthenticator(origin=origin))
            token = (await auth.login(device))["access_token"]
            for path in samples[:4]:
                response = await http.post(
                    "/v1/upload",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": (path.name, path.read_bytes())},
                )
                assert response.status_code == 202, response.text
            await wait_completed(http, token, 4)
            days = await http.get("/v1/days", headers={"Authorization": f"Bearer {token}"})
            async with assistant(origin, token) as mcp:  # the passkey login's own token
                listed = await mcp.call("list_days")
                assert [d["date"] for d in listed["days"]] == days.json()["days"]
            log = await http.get(
                "/v1/me/assistant-audit", headers={"Authorization": f"Bearer {token}"}
            )
            assert [e["tool"] for e in log.json()["entries"]] == ["list_days"]

            out = tmp_path / "carol.json"
            export = subprocess.run(
                [EXE, "export", "--username", "carol", "--format", "fhir", "--output", str(out)],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert export.returncode == 0, export.stderr
            bundle = json.loads(out.read_text())
            Bundle.model_validate(bundle)
            over_http = await http.get("/v1/me/fhir", headers={"Authorization": f"Bearer {token}"})
            ids = [e["fullUrl"] for e in bundle["entry"]]
            assert ids == [e["fullUrl"] for e in over_http.json()["entry"]]
            assert (
                sum(e["resource"]["resourceType"] == "Observation" for e in bundle["entry"]) > 100
            )
            unknown = subprocess.run(
                [EXE, "export", "--username", "nobody"], env=env, capture_output=True,
                text=True, timeout=60,
            )  # fmt: skip
            assert unknown.returncode == 2 and "sign up" in unknown.stderr
    finally:
        assert interrupt(proc) == 0
