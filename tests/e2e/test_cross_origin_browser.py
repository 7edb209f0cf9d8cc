"""A web client on its own origin, in a real browser (Debian Chromium, CDP virtual
authenticator): the test page is served from one origin and calls the auth service on
another, as the previous server's web client did. Without `HP_AUTH_CORS_ORIGINS` the
browser refuses (no CORS answer); with the page's origin configured, the preflights are
answered and registration, both logins and a protected call work."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import FileResponse

from healthplatform.apps.api import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.settings import Settings
from tests.e2e.browser import ARTIFACT_ROOT, HERE, run_script
from tests.integration.auth.servers import serve
from tests.support.services import free_port


def page_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/")
    async def test_page() -> FileResponse:
        return FileResponse(HERE / "static" / "index.html")

    return app


@pytest.fixture
def origins(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """The page's origin, the auth service's (CORS for the page when asked) and the API."""
    page_port, auth_port, open_port = free_port(), free_port(), free_port()
    page_origin = f"http://localhost:{page_port}"
    common: dict[str, Any] = {
        "rp_id": "localhost",
        "allowed_origins": [page_origin],
        "user_verification": "required",
    }
    closed = AuthSettings(data_dir=tmp_path / "closed", **common)
    opened = AuthSettings(data_dir=tmp_path / "open", cors_origins=[page_origin], **common)
    api_settings = Settings(
        data_dir=tmp_path / "api",
        jwt_jwks_url=f"http://127.0.0.1:{open_port}/.well-known/jwks.json",
        jwks_min_refresh_seconds=0,
    )
    for settings in (closed, opened):
        asyncio.run(AUTH.upgrade(settings))
    asyncio.run(HEALTH.upgrade(api_settings))
    with (
        serve(page_app(), port=page_port),
        serve(create_auth_app(closed), port=auth_port),
        serve(create_auth_app(opened), port=open_port),
        serve(create_app(api_settings)) as api_url,
    ):
        yield page_origin, f"http://localhost:{auth_port}|http://localhost:{open_port}", api_url


def drive(page: str, api: str, artifacts: Path) -> dict[str, Any]:
    username = f"cross-{uuid.uuid4().hex[:8]}"
    options = {"page": page, "api": api, "username": username, "artifacts": artifacts}
    return run_script("passkey.mjs", options, timeout=90, require_ok=False)


def test_a_client_on_its_own_origin(origins: tuple[str, str, str]) -> None:
    page_origin, auth_urls, api_url = origins
    closed_url, open_url = auth_urls.split("|")

    refused = drive(f"{page_origin}/?auth={closed_url}", api_url, ARTIFACT_ROOT / "e2e" / "no-cors")
    assert refused["ok"] is False and refused["steps"] == []
    assert "Failed to fetch" in refused["error"], refused["error"]  # the browser's CORS refusal

    result = drive(f"{page_origin}/?auth={open_url}", api_url, ARTIFACT_ROOT / "e2e" / "cors")
    assert result["ok"], json.dumps(result, indent=2)
    steps = {step["step"]: step for step in result["steps"]}
    assert steps["register"]["success"] is True
    assert steps["login"]["expires_in"] == 900 and steps["usernameless"]["username"]
    assert steps["passkeys"]["count"] == 1  # Authorization header: a preflighted call
    assert steps["health-api"]["status"] == 200
