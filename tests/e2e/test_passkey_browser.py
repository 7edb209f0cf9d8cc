"""A real browser (Debian Chromium, a CDP virtual authenticator) registers a passkey, logs
in with and without a username, and calls protected endpoints of the auth service and of
the Health API. Missing Chromium or Node fails the test (scripts/ensure-browser.sh
installs them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.responses import FileResponse

from healthplatform.apps.api import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.settings import Settings
from tests.e2e.browser import ARTIFACT_ROOT, HERE, run_script
from tests.integration.auth.servers import serve
from tests.support.services import free_port

ARTIFACTS = ARTIFACT_ROOT / "e2e"


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
    page_url, api_url = servers
    username = f"browser-{uuid.uuid4().hex[:8]}"
    options = {"page": page_url, "api": api_url, "username": username, "artifacts": ARTIFACTS}
    result = run_script("passkey.mjs", options, timeout=90)
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
