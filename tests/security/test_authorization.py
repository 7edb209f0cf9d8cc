"""No user reaches another user's data through any endpoint.

The routes are enumerated from the apps themselves (the Health API's and the auth
service's); every route must appear in a table below, as public (and then it must not leak
user data) or as a per-user route exercised with another user's identifiers. A new route
fails `test_every_route_is_covered` until it is added here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from healthplatform.apps.api import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.settings import Settings
from tests.conftest import ApiClient
from tests.integration.auth.conftest import AuthClient
from tests.integration.test_etl import process_all

pytestmark = pytest.mark.integration

PUBLIC_API = {
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),  # in-cluster only: the gateway answers 404 (gateway.blockMetrics)
    ("GET", "/"),
    ("GET", "/static/{version}/{path:path}"),
    ("GET", "/openapi.json"),  # no /docs or /redoc: they load script from a CDN
}
PER_USER_API = {
    ("POST", "/v1/upload"),
    ("GET", "/v1/upload/status/{correlation_id}"),
    ("GET", "/v1/upload/history"),
    ("GET", "/v1/narratives"),
    ("GET", "/v1/days"),
    ("GET", "/v1/days/{day}"),
    ("GET", "/v1/me/export"),
    ("GET", "/v1/me/timezone"),
    ("PUT", "/v1/me/timezone"),
    ("DELETE", "/v1/me/timezone"),
    ("GET", "/v1/me/consent/ai-training"),
    ("PUT", "/v1/me/consent/ai-training"),
    ("DELETE", "/v1/me/data"),
    ("GET", "/v1/me/fhir"),
    ("GET", "/v1/me/assistant-audit"),
    ("POST", "/mcp"),  # the MCP endpoint (docs/assistant.md): the API's tokens
    ("GET", "/v1/trends"),
    ("GET", "/v1/days/by-upload/{upload_id}"),
    ("GET", "/v1/me/export.zip"),
    ("POST", "/v1/me/sample-data"),
}
PUBLIC_AUTH = {
    ("POST", "/register/start"),
    ("POST", "/register/complete"),
    ("POST", "/authenticate/start"),
    ("POST", "/authenticate/complete"),
    ("POST", "/token/refresh"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/assetlinks.json"),
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    # in-cluster only (no gateway route): opaque ids of ended sessions, no user data
    ("GET", "/internal/revoked-sessions"),
    ("GET", "/auth/openapi.json"),
}
PER_USER_AUTH = {
    ("POST", "/logout"),
    ("GET", "/devices"),
    ("DELETE", "/devices/{device_id}"),
    ("GET", "/passkeys"),
    ("POST", "/passkeys/register/start"),
    ("POST", "/passkeys/register/complete"),
    ("DELETE", "/passkeys/{passkey_id}"),
    ("DELETE", "/account"),
}


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers and non-schema routes too."""
    found = {
        (method, path)
        for path, item in app.openapi()["paths"].items()
        for method in (m.upper() for m in item)
    }
    stack: list[Any] = list(app.router.routes)
    while stack:
        route = stack.pop()
        stack += list(getattr(getattr(route, "original_router", None), "routes", []) or [])
        path = getattr(route, "path", None)
        for method in getattr(route, "methods", None) or ():
            if path and method != "HEAD":
                found.add((method, path))
    return found


def test_every_route_is_covered(tmp_path: Path) -> None:
    api = routes(create_app(Settings(data_dir=tmp_path)))
    assert api == PUBLIC_API | PER_USER_API, api ^ (PUBLIC_API | PER_USER_API)
    auth = routes(create_auth_app(AuthSettings(data_dir=tmp_path)))
    assert auth == PUBLIC_AUTH | PER_USER_AUTH, auth ^ (PUBLIC_AUTH | PER_USER_AUTH)
    for method, path in PER_USER_API:  # no per-user route is reachable without a token
        assert path.startswith("/v1/") or path == "/mcp", (method, path)


# --------------------------------------------------------------------------------------
# Health API
# --------------------------------------------------------------------------------------


@dataclass
class Owner:
    sub: str
    uploads: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)  # strings only this user's data contains


async def seed(api: ApiClient, samples: list[Path]) -> Owner:
    owner = Owner(f"alice-{uuid.uuid4().hex}")
    await api.opt_in(owner.sub)
    zone = {"zone": "America/Chicago", "from": "2025-01-01"}
    assert (
        await api.http.put("/v1/me/timezone", json=zone, headers=api.auth(owner.sub))
    ).is_success
    for path in [p for p in samples if p.name.startswith(("StepsRecord", "HeartRateRecord"))][:2]:
        response = await api.upload(owner.sub, path.name, path.read_bytes())
        assert response.status_code == 202, response.text
        owner.uploads.append(response.json())
        owner.files.append(path)
    await process_all(api)
    days = await api.http.get("/v1/days", headers=api.auth(owner.sub))
    assert days.status_code == 200, days.text
    owner.days = list(days.json()["days"])
    assert owner.days, "the owner has data to protect"
    for upload in owner.uploads:
        owner.secrets |= {upload["correlation_id"], upload["sha256"], upload["object_key"]}
    return owner


Check = Callable[[ApiClient, Owner, str], Awaitable[None]]


def no_leak(response: httpx.Response, owner: Owner) -> None:
    assert response.status_code < 500, response.text
    for secret in owner.secrets:
        assert secret not in response.text, f"{response.request.url} leaks {secret}"


async def status_of_anothers_upload(api: ApiClient, owner: Owner, mallory: str) -> None:
    for upload in owner.uploads:
        cid = upload["correlation_id"]
        response = await api.http.get(f"/v1/upload/status/{cid}", headers=api.auth(mallory))
        assert response.status_code == 404
        unknown = await api.http.get(f"/v1/upload/status/{uuid.uuid4()}", headers=api.auth(mallory))
        assert response.json() == unknown.json(), "same answer as for an id that does not exist"


async def history(api: ApiClient, owner: Owner, mallory: str) -> None:
    response = await api.http.get("/v1/upload/history?limit=100", headers=api.auth(mallory))
    assert response.status_code == 200
    no_leak(response, owner)


async def narratives(api: ApiClient, owner: Owner, mallory: str) -> None:
    query = f"/v1/narratives?from={min(owner.days)}&to={max(owner.days)}"
    mine = await api.http.get(query, headers=api.auth(owner.sub))
    theirs = await api.http.get(query, headers=api.auth(mallory))
    assert mine.status_code == theirs.status_code == 200
    assert json.dumps(mine.json()) != json.dumps(theirs.json())
    body = theirs.json()
    items = body.get("narratives", body.get("items", []))
    assert items == [], body


async def days(api: ApiClient, owner: Owner, mallory: str) -> None:
    response = await api.http.get("/v1/days", headers=api.auth(mallory))
    assert response.status_code == 200 and response.json()["days"] == []


async def one_day(api: ApiClient, owner: Owner, mallory: str) -> None:
    for day in owner.days:
        mine = await api.http.get(f"/v1/days/{day}", headers=api.auth(owner.sub))
        theirs = await api.http.get(f"/v1/days/{day}", headers=api.auth(mallory))
        assert mine.status_code == 200
        if theirs.status_code == 200:
            assert theirs.json() != mine.json()
            assert not theirs.json().get("metrics"), theirs.json()
        else:
            assert theirs.status_code == 404
        no_leak(theirs, owner)


async def export(api: ApiClient, owner: Owner, mallory: str) -> None:
    response = await api.http.get("/v1/me/export", headers=api.auth(mallory))
    assert response.status_code == 200
    no_leak(response, owner)
    mine = await api.http.get("/v1/me/export", headers=api.auth(owner.sub))
    assert all(secret in mine.text for secret in owner.secrets)


async def delete(api: ApiClient, owner: Owner, mallory: str) -> None:
    response = await api.http.delete("/v1/me/data", headers=api.auth(mallory))
    assert response.status_code == 200
    for upload in owner.uploads:
        status = await api.http.get(
            f"/v1/upload/status/{upload['correlation_id']}", headers=api.auth(owner.sub)
        )
        assert status.status_code == 200, "another user's delete must not touch this data"
    days = await api.http.get("/v1/days", headers=api.auth(owner.sub))
    assert days.json()["days"] == owner.days


async def trends(api: ApiClient, owner: Owner, mallory: str) -> None:
    first, last = min(owner.days), max(owner.days)
    params = {"from": first, "to": last}
    theirs = await api.http.get("/v1/trends", params=params, headers=api.auth(mallory))
    assert theirs.status_code == 200 and theirs.json()["days"] == [], theirs.json()
    mine = await api.http.get("/v1/trends", params=params, headers=api.auth(owner.sub))
    assert [d["date"] for d in mine.json()["days"]] == sorted(owner.days)
    no_leak(theirs, owner)


async def days_of_upload(api: ApiClient, owner: Owner, mallory: str) -> None:
    for upload in owner.uploads:
        path = f"/v1/days/by-upload/{upload['correlation_id']}"
        theirs = await api.http.get(path, headers=api.auth(mallory))
        assert theirs.json() == {"days": [], "narrative": None}, theirs.json()
        no_leak(theirs, owner)
        mine = await api.http.get(path, headers=api.auth(owner.sub))
        assert mine.json()["days"], mine.json()


async def export_zip(api: ApiClient, owner: Owner, mallory: str) -> None:
    import io
    import zipfile

    response = await api.http.get("/v1/me/export.zip", headers=api.auth(mallory))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert not [n for n in archive.namelist() if n.startswith("raw/")]
    for name in archive.namelist():
        text = archive.read(name).decode()
        assert not any(secret in text for secret in owner.secrets), name


async def sample_data(api: ApiClient, owner: Owner, mallory: str) -> None:
    before = await api.http.get("/v1/upload/history?limit=100", headers=api.auth(owner.sub))
    loaded = await api.http.post("/v1/me/sample-data", headers=api.auth(mallory))
    assert loaded.status_code == 200 and loaded.json()["uploads_new"] > 0
    after = await api.http.get("/v1/upload/history?limit=100", headers=api.auth(owner.sub))
    assert after.json() == before.json(), "samples land in the caller's account only"


async def owners_zone(api: ApiClient, owner: Owner) -> dict[str, Any]:
    response = await api.http.get("/v1/me/timezone", headers=api.auth(owner.sub))
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def read_zone(api: ApiClient, owner: Owner, mallory: str) -> None:
    theirs = await api.http.get("/v1/me/timezone", headers=api.auth(mallory))
    assert theirs.status_code == 200 and theirs.json()["settings"] == []
    assert theirs.json()["records_placed"] == {}
    no_leak(theirs, owner)


async def set_zone(api: ApiClient, owner: Owner, mallory: str) -> None:
    before = await owners_zone(api, owner)
    put = await api.http.put(
        "/v1/me/timezone", json={"zone": "Asia/Tokyo"}, headers=api.auth(mallory)
    )
    assert put.status_code == 202 and put.json()["settings"] == [
        {"from": None, "zone": "Asia/Tokyo"}
    ]
    assert await owners_zone(api, owner) == before


async def clear_zone(api: ApiClient, owner: Owner, mallory: str) -> None:
    before = await owners_zone(api, owner)
    assert (await api.http.delete("/v1/me/timezone", headers=api.auth(mallory))).status_code == 202
    assert await owners_zone(api, owner) == before


async def owners_consent(api: ApiClient, owner: Owner) -> dict[str, Any]:
    response = await api.http.get("/v1/me/consent/ai-training", headers=api.auth(owner.sub))
    return response.json()  # type: ignore[no-any-return]


async def read_consent(api: ApiClient, owner: Owner, mallory: str) -> None:
    theirs = await api.http.get("/v1/me/consent/ai-training", headers=api.auth(mallory))
    assert theirs.status_code == 200 and theirs.json()["granted"] is False
    assert (await owners_consent(api, owner))["granted"] is True


async def set_consent(api: ApiClient, owner: Owner, mallory: str) -> None:
    before = await owners_consent(api, owner)
    put = await api.http.put(
        "/v1/me/consent/ai-training", json={"granted": False}, headers=api.auth(mallory)
    )
    assert put.status_code == 200
    assert await owners_consent(api, owner) == before


async def upload_same_file(api: ApiClient, owner: Owner, mallory: str) -> None:
    """Deduplication is per user: the same bytes must not reveal that someone else has them."""
    sample = owner.files[0]
    again = await api.upload(mallory, sample.name, sample.read_bytes())
    assert again.status_code == 202
    body = again.json()
    assert body["correlation_id"] not in owner.secrets
    assert body.get("duplicate") is False


async def fhir(api: ApiClient, owner: Owner, mallory: str) -> None:
    theirs = await api.http.get("/v1/me/fhir", headers=api.auth(mallory))
    assert theirs.status_code == 200
    no_leak(theirs, owner)
    kinds = [e["resource"]["resourceType"] for e in theirs.json()["entry"]]
    assert kinds == ["Patient", "CodeSystem", "ConceptMap"], kinds
    mine = await api.http.get("/v1/me/fhir", headers=api.auth(owner.sub))
    assert len(mine.json()["entry"]) > 3
    assert theirs.json()["entry"][0] != mine.json()["entry"][0]  # another Patient


async def mcp_call(api: ApiClient, sub: str, tool: str, arguments: dict[str, Any]) -> Any:
    """One JSON-RPC tools/call (the server is stateless: no session to open first)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}  # fmt: skip
    headers = {**api.auth(sub), "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}  # fmt: skip
    response = await api.http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def mcp(api: ApiClient, owner: Owner, mallory: str) -> None:
    listed = await mcp_call(api, mallory, "list_days", {})
    assert json.loads(listed["content"][0]["text"])["days"] == []
    mine = await mcp_call(api, owner.sub, "list_days", {})
    assert len(json.loads(mine["content"][0]["text"])["days"]) == len(owner.days)
    for day in owner.days:
        theirs = await mcp_call(api, mallory, "get_day", {"day": day})
        assert theirs["isError"] and "no data" in theirs["content"][0]["text"], theirs
    series = await mcp_call(api, mallory, "query_series", {
        "metric": "activity.steps.total", "from_date": min(owner.days),
        "to_date": max(owner.days), "aggregation": "sum"})  # fmt: skip
    assert json.loads(series["content"][0]["text"])["points"] == []


async def assistant_audit(api: ApiClient, owner: Owner, mallory: str) -> None:
    await mcp_call(api, owner.sub, "list_days", {})
    theirs = await api.http.get("/v1/me/assistant-audit", headers=api.auth(mallory))
    mine = await api.http.get("/v1/me/assistant-audit", headers=api.auth(owner.sub))
    assert theirs.status_code == mine.status_code == 200
    assert mine.json()["total"] >= 1
    assert all(e["token_id"] for e in mine.json()["entries"])
    owners_tokens = {e["token_id"] for e in mine.json()["entries"]}
    assert not owners_tokens & {e["token_id"] for e in theirs.json()["entries"]}


CHECKS: dict[tuple[str, str], Check] = {
    ("GET", "/v1/upload/status/{correlation_id}"): status_of_anothers_upload,
    ("GET", "/v1/upload/history"): history,
    ("GET", "/v1/narratives"): narratives,
    ("GET", "/v1/days"): days,
    ("GET", "/v1/days/{day}"): one_day,
    ("GET", "/v1/me/export"): export,
    # before the upload of the same bytes (after it, mallory holds them too)
    ("GET", "/v1/trends"): trends,
    ("GET", "/v1/days/by-upload/{upload_id}"): days_of_upload,
    ("GET", "/v1/me/export.zip"): export_zip,
    ("POST", "/v1/me/sample-data"): sample_data,
    ("POST", "/v1/upload"): upload_same_file,
    ("GET", "/v1/me/timezone"): read_zone,
    ("PUT", "/v1/me/timezone"): set_zone,
    ("DELETE", "/v1/me/timezone"): clear_zone,
    ("GET", "/v1/me/consent/ai-training"): read_consent,
    ("PUT", "/v1/me/consent/ai-training"): set_consent,
    ("GET", "/v1/me/fhir"): fhir,
    ("POST", "/mcp"): mcp,
    ("GET", "/v1/me/assistant-audit"): assistant_audit,
    ("DELETE", "/v1/me/data"): delete,  # last: it erases mallory's own data
}


async def test_no_user_reaches_another_users_data(api: ApiClient, samples: list[Path]) -> None:
    assert set(CHECKS) == PER_USER_API
    owner = await seed(api, samples)
    mallory = f"mallory-{uuid.uuid4().hex}"
    failures = []
    for route, check in CHECKS.items():
        try:
            await check(api, owner, mallory)
        except AssertionError as exc:
            failures.append(f"{route}: {exc}")
    for method, path in sorted(PUBLIC_API):
        url = path.replace("{version}", "x").replace("{path:path}", "app.js")
        no_leak(await api.http.request(method, url), owner)
    assert not failures, "\n".join(failures)


async def test_every_per_user_route_needs_a_token(api: ApiClient) -> None:
    for method, path in sorted(PER_USER_API):
        url = path.replace("{correlation_id}", str(uuid.uuid4())).replace("{day}", "2025-09-20")
        url = url.replace("{upload_id}", str(uuid.uuid4()))
        response = await api.http.request(method, url)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


# --------------------------------------------------------------------------------------
# Auth service: devices and passkeys of another user
# --------------------------------------------------------------------------------------


async def test_no_user_reaches_another_users_devices_or_passkeys(
    auth: AuthClient, username: str
) -> None:
    alice_device = await auth.register(username)
    alice = await auth.login(alice_device, username)
    mallory_name = f"mallory-{uuid.uuid4().hex[:8]}"
    mallory_device = await auth.register(mallory_name)
    mallory = await auth.login(mallory_device, mallory_name)
    as_alice, as_mallory = auth.bearer(alice["access_token"]), auth.bearer(mallory["access_token"])

    alice_devices = (await auth.http.get("/devices", headers=as_alice)).json()
    alice_passkeys = (await auth.http.get("/passkeys", headers=as_alice)).json()
    device_ids = {d["id"] for d in alice_devices["devices"]}
    passkey_ids = {p["id"] for p in alice_passkeys["passkeys"]}
    assert device_ids and passkey_ids

    seen = (await auth.http.get("/devices", headers=as_mallory)).text
    seen += (await auth.http.get("/passkeys", headers=as_mallory)).text
    assert not any(i in seen for i in device_ids | passkey_ids)
    for device in device_ids:
        response = await auth.http.delete(f"/devices/{device}", headers=as_mallory)
        assert response.status_code == 404, response.text
    for passkey in passkey_ids:
        response = await auth.http.delete(f"/passkeys/{passkey}", headers=as_mallory)
        assert response.status_code == 404, response.text
    assert (await auth.http.get("/devices", headers=as_alice)).json() == alice_devices
    assert (await auth.http.get("/passkeys", headers=as_alice)).json() == alice_passkeys
    # logout revokes the caller's own session only
    assert (await auth.http.post("/logout", headers=as_mallory)).status_code == 200
    assert (await auth.http.get("/devices", headers=as_alice)).status_code == 200
    # adding a passkey starts for the caller only: the options exclude only the caller's
    start = await auth.http.post("/passkeys/register/start", json={}, headers=as_alice)
    assert start.status_code == 200
    for method, path in sorted(PER_USER_AUTH):
        url = path.replace("{device_id}", str(uuid.uuid4())).replace(
            "{passkey_id}", str(uuid.uuid4())
        )
        response = await auth.http.request(method, url, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path, response.status_code)
    # deleting an account deletes the caller's only
    again = await auth.login(mallory_device, mallory_name)
    gone = await auth.http.delete("/account", headers=auth.bearer(again["access_token"]))
    assert gone.status_code == 200, gone.text
    assert (await auth.http.get("/devices", headers=as_alice)).json() == alice_devices
    assert (await auth.http.get("/passkeys", headers=as_alice)).json() == alice_passkeys
