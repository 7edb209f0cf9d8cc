"""Browser-facing defences: the web app's security headers (CSP with frame-ancestors, HSTS
only behind TLS as told by X-Forwarded-Proto, framing, sniffing, referrer), and CORS.

CORS is off by default: the web app is served from the same origin as the API (the gateway
routes both), so a cross-origin request gets no Access-Control-Allow-Origin, not even for
the public origin, and a preflight is not answered with permissions. Only the origins of
`HP_CORS_ORIGINS` / `HP_AUTH_CORS_ORIGINS` (the previous server's web client on its own
origin) get CORS, each by name, never `*` (tests/integration/auth/test_old_clients.py for
the auth service)."""

from __future__ import annotations

import httpx
import pytest

from healthplatform.apps.api import create_app
from healthplatform.settings import Settings
from tests.conftest import ApiClient
from tests.integration.auth.conftest import AuthClient

pytestmark = pytest.mark.integration

EVIL = "https://evil.example"


def csp_directives(header: str) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in header.split(";"))
        if part
    }


async def test_web_app_security_headers(api: ApiClient) -> None:
    page = await api.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = csp_directives(page.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert "'unsafe-inline'" not in csp[directive] and "'unsafe-eval'" not in csp[directive]
        assert "*" not in csp[directive].split()
    assert csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in page.headers, "no HSTS over plain HTTP"


async def test_hsts_behind_tls(api: ApiClient) -> None:
    page = await api.http.get("/", headers={"X-Forwarded-Proto": "https"})
    hsts = page.headers["strict-transport-security"]
    max_age = int(hsts.split("max-age=", 1)[1].split(";", 1)[0])
    assert max_age >= 180 * 86400
    assert "includesubdomains" in hsts.lower()
    asset = await api.http.get("/static/none/app.js", headers={"X-Forwarded-Proto": "https"})
    assert asset.status_code == 404
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" in asset.headers


def assert_no_cors(response: httpx.Response) -> None:
    assert response.status_code < 500
    for header in response.headers:
        assert not header.lower().startswith("access-control-allow"), dict(response.headers)


async def test_the_api_grants_no_cross_origin_access(api: ApiClient) -> None:
    origin = api.app.state.resources.settings.public_url  # type: ignore[attr-defined]
    for who in (EVIL, origin, "null"):
        headers = api.auth("someone") | {"Origin": who}
        assert_no_cors(await api.http.get("/v1/upload/history", headers=headers))
        preflight = await api.http.options(
            "/v1/upload",
            headers={
                "Origin": who,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert_no_cors(preflight)
        assert preflight.status_code in (401, 404, 405)


async def test_the_auth_service_grants_no_cross_origin_access(auth: AuthClient) -> None:
    for path, method in (("/authenticate/start", "POST"), ("/devices", "GET")):
        response = await auth.http.request(
            method, path, headers={"Origin": EVIL}, json={} if method == "POST" else None
        )
        assert_no_cors(response)
        preflight = await auth.http.options(
            path, headers={"Origin": EVIL, "Access-Control-Request-Method": method}
        )
        assert_no_cors(preflight)


async def test_the_api_grants_cors_to_configured_client_origins_only(
    settings: Settings, api: ApiClient
) -> None:
    client_origin = "http://localhost:5173"  # the old web client's own dev server
    app = create_app(settings.model_copy(update={"cors_origins": [client_origin]}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            preflight = await http.options(
                "/v1/upload/history",
                headers={
                    "Origin": client_origin,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            assert preflight.status_code == 204, "a preflight is never 405"
            assert preflight.headers["access-control-allow-origin"] == client_origin
            assert "authorization" in preflight.headers["access-control-allow-headers"]
            read = await http.get(
                "/v1/upload/history", headers=api.auth("someone") | {"Origin": client_origin}
            )
            assert read.status_code == 200
            assert read.headers["access-control-allow-origin"] == client_origin
            assert "retry-after" in read.headers["access-control-expose-headers"].lower()
            for who in (EVIL, "null", settings.public_url):
                assert_no_cors(
                    await http.get(
                        "/v1/upload/history", headers=api.auth("someone") | {"Origin": who}
                    )
                )
                preflight = await http.options(
                    "/v1/upload", headers={"Origin": who, "Access-Control-Request-Method": "POST"}
                )
                assert_no_cors(preflight)
