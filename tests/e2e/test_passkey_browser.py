"""A real browser (Debian Chromium, a CDP virtual authenticator) registers a passkey, logs
in with and without a username, and calls protected endpoints of the auth service and of
the Health API. Missing Chromium or Node fails the test (scripts/ensure-browser.sh
installs them)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.responses import FileResponse

from healthplatform.api.app import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.settings import Settings
from tests.integration.auth.servers import serve
from tests.support.services import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


def require_browser() -> str:
    """Node, Debian Chromium and the pinned playwright-core: their absence is a failure."""
    node = shutil.which("node")
    problems = []
    if node is None:
        problems.append("node not found")
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} not found")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        problems.append("tests/e2e/node_modules missing (npm ci)")
    if problems:
        pytest.fail("; ".join(problems) + ": run scripts/ensure-browser.sh")
    assert node is not None
    return node


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The auth service plus the test page on http://localhost:<port>, and the Health API
    trusting its JWKS."""
    port = free_port()
    auth_settings = AuthSettings(
        data_dir=tmp_path / "auth",
        rp_id="localhost",
        rp_name="Health Platform (browser test)",
        allowed_origins=[f"http://localhost:{port}"],
        user_verification="required",
    )
    api_settings = Settings(
        data_dir=tmp_path / "api",
        jwt_jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json",
        jwks_min_refresh_seconds=0,
    )
    asyncio.run(AUTH.upgrade(auth_settings))
    asyncio.run(HEALTH.upgrade(api_settings))
    auth_app = create_auth_app(auth_settings)

    @auth_app.get("/", include_in_schema=False)
    async def test_page() -> FileResponse:  # test-only: the service itself serves no page
        return FileResponse(HERE / "static" / "index.html")

    with serve(auth_app, port=port), serve(create_app(api_settings)) as api_url:
        yield f"http://localhost:{port}/", api_url


def test_passkey_flow_in_chromium(servers: tuple[str, str]) -> None:
    node = require_browser()
    page_url, api_url = servers
    username = f"browser-{uuid.uuid4().hex[:8]}"
    completed = subprocess.run(
        [
            node,
            str(HERE / "passkey.mjs"),
            "--page",
            page_url,
            "--api",
            api_url,
            "--username",
            username,
            "--artifacts",
            str(ARTIFACTS),
            "--chromium",
            str(CHROMIUM),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=HERE,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, (
        f"no result from passkey.mjs\nstdout:{completed.stdout}\nstderr:{completed.stderr}"
    )
    result = json.loads(lines[-1])
    assert completed.returncode == 0 and result["ok"], json.dumps(result, indent=2)
    steps = {step["step"]: step for step in result["steps"]}
    assert steps["register"]["success"] is True
    assert steps["login"] == {"step": "login", "username": username, "expires_in": 900}
    assert steps["usernameless"]["username"] == username
    assert steps["passkeys"]["count"] == 1
    assert steps["health-api"]["status"] == 200
    assert steps["health-api-forged"]["status"] == 401
    [credential] = result["credentials"]  # one discoverable credential, counting up
    assert credential["resident"] is True and credential["signCount"] >= 2
    for name in ("1-registered", "2-signed-in", "3-protected-call"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 0
