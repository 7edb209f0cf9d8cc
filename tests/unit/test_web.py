"""The web app's routes: the shell and the versioned assets, their security and cache
headers, and refusal of anything that is not one of the packaged assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthplatform import web
from healthplatform.web.routes import CONTENT_SECURITY_POLICY, STATIC_DIR, bundle, load_bundle

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?from\s+["']([^"']+)["']""", re.M)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    web.install(app)
    with TestClient(app) as test_client:
        yield test_client


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def csp_directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


def test_index_is_served_with_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert csp_directives(response.headers["content-security-policy"]) == EXPECTED_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"
    assert "strict-transport-security" not in response.headers  # plain http
    assert '<script type="module" src="/static/' in response.text


def test_csp_allows_nothing_inline_or_remote() -> None:
    for forbidden in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "http:", "https:", "*"):
        assert forbidden not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("headers", "base_url"),
    [({"X-Forwarded-Proto": "https"}, "http://testserver"), ({}, "https://testserver")],
)
def test_hsts_only_over_https(client: TestClient, headers: dict[str, str], base_url: str) -> None:
    response = client.get(f"{base_url}/", headers=headers)
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_forwarded_http_gets_no_hsts(client: TestClient) -> None:
    response = client.get("/", headers={"X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in response.headers


def test_index_has_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/").text
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag
    assert all(
        not body.strip() for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    )


def test_index_assets_are_served_with_long_cache(client: TestClient) -> None:
    html = client.get("/").text
    urls = asset_urls(html)
    assert {url.rsplit("/", 1)[-1] for url in urls} == {"icon.svg", "app.css", "main.js"}
    version = bundle().version
    for url in urls:
        assert url.startswith(f"/static/{version}/")
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/static/{version}/js/main.js").headers["content-type"] == (
        "text/javascript; charset=utf-8"
    )
    assert client.get(f"/static/{version}/app.css").headers["content-type"] == (
        "text/css; charset=utf-8"
    )


def test_every_module_import_resolves_to_a_served_asset(client: TestClient) -> None:
    version = bundle().version
    scripts = [name for name in bundle().assets if name.endswith(".js")]
    assert {"js/main.js", "js/api.js", "js/auth.js", "js/charts.js"} <= set(scripts)
    for name in scripts:
        source = bundle().assets[name].body.decode()
        for target in IMPORT.findall(source):
            assert target.startswith("./") or target.startswith("../"), (name, target)
            resolved = httpx.URL(f"http://testserver/static/{version}/{name}").join(target)
            assert client.get(resolved.path).status_code == 200, (name, target)


def test_scripts_never_parse_strings_as_html() -> None:
    """Text from the API is set as text; the CSP blocks inline code, this blocks markup."""
    for name, asset in bundle().assets.items():
        if name.endswith(".js"):
            source = asset.body.decode()
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
                assert sink not in source, (name, sink)


@pytest.mark.parametrize(
    "path",
    [
        "/static/{v}/nope.js",
        "/static/{v}/",
        "/static/{v}/index.html",
        "/static/0000000000/js/main.js",
        "/static/js/main.js",
        "/static/../settings.py",
        "/static/%2e%2e/settings.py",
        "/static/{v}/../../routes.py",
        "/static/{v}/..%2f..%2froutes.py",
        "/static/{v}/%2e%2e/%2e%2e/routes.py",
        "/static/{v}/js/../../routes.py",
        "/static/{v}//etc/passwd",
        "/static/{v}/js\\..\\..\\routes.py",
        "/static/{v}/JS/MAIN.JS",
    ],
)
def test_unknown_or_traversing_static_paths_are_404(client: TestClient, path: str) -> None:
    url = path.replace("{v}", bundle().version)
    # send the path exactly as written: no client-side normalisation of ".."
    response = client.get(httpx.URL("http://testserver").copy_with(raw_path=url.encode()))
    assert response.status_code == 404, url
    assert "import" not in response.text and "def " not in response.text


def test_static_404_has_the_headers(client: TestClient) -> None:
    response = client.get(f"/static/{bundle().version}/missing.js")
    assert response.status_code == 404
    assert response.json() == {"detail": "not found", "code": "not_found"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_bundle_serves_only_known_file_types(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<link href='{{static}}/a.css'>{{record_types}}")
    (tmp_path / "a.css").write_text("body{}")
    (tmp_path / "secret.py").write_text("KEY = 1")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "link.js").symlink_to(tmp_path / "secret.py")
    loaded = load_bundle(tmp_path)
    assert set(loaded.assets) == {"a.css"}
    assert f"/static/{loaded.version}/a.css".encode() in loaded.index
    assert b"StepsRecord" in loaded.index


def test_version_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("{{static}}")
    (tmp_path / "a.css").write_text("body{}")
    first = load_bundle(tmp_path).version
    (tmp_path / "a.css").write_text("body{color:red}")
    assert load_bundle(tmp_path).version != first


def test_install_is_idempotent() -> None:
    app = FastAPI()
    web.install(app)
    web.install(app)
    other = FastAPI()
    other.include_router(web.router)
    web.install(other)
    for target in (app, other):
        assert sum(web.routes._is_web_route(route) for route in target.routes) == 1
        with TestClient(target) as test_client:
            assert test_client.get("/").status_code == 200


def test_packaged_static_folder_has_the_modules() -> None:
    for name in ("index.html", "app.css", "js/api.js", "js/auth.js", "js/charts.js"):
        assert (STATIC_DIR / name).is_file()
    assert sorted(p.name for p in (STATIC_DIR / "js" / "views").glob("*.js")) == [
        "account.js",
        "day.js",
        "deletion.js",
        "history.js",
        "signin.js",
        "trends.js",
        "upload.js",
        "welcome.js",
    ]
