"""The MCP server end to end: the SDK's client over a real socket against a running
platform with the real sample files processed, on both backends."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from healthplatform.settings import Settings
from tests.integration.mcp_client import ToolFailed, assistant, served_platform
from tests.integration.test_etl import process_all, upload_files
from tests.integration.test_etl_crash import EXE, settings_env
from tests.support import services

pytestmark = pytest.mark.integration

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def status_codes(exc: BaseException) -> set[int]:
    """HTTP statuses of the errors inside a (nested) exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return set().union(*(status_codes(e) for e in exc.exceptions))
    if isinstance(exc, httpx.HTTPStatusError):
        return {exc.response.status_code}
    return status_codes(exc.__cause__) if exc.__cause__ else set()


async def test_tools_answer_from_the_persons_own_data_with_provenance_and_audit(
    settings: Settings, keys: services.KeySet, user: str, samples: list[Path]
) -> None:
    async with served_platform(settings, keys) as api:
        await upload_files(api, user, samples)
        await process_all(api, user)
        base = str(api.http.base_url).rstrip("/")
        async with assistant(base, keys.mint(user)) as mcp:
            tools = {t.name for t in (await mcp.session.list_tools()).tools}
            assert tools == {
                "list_days",
                "get_day",
                "get_narratives",
                "query_series",
                "explain_metric",
            }
            days = await mcp.call("list_days")
            dates = [d["date"] for d in days["days"]]
            assert "2025-09-20" in dates and dates == sorted(dates, reverse=True)

            day = await mcp.call("get_day", day="2025-09-20")
            assert day["metrics"]["activity"]["steps"]["total"] == 3933  # docs/metrics.md
            claims = day["journal"]["claims"]
            assert claims and all("metric" in c and "value" in c for c in claims)
            assert day["provenance"]["definitions_version"]
            assert day["provenance"]["source_upload_ids"]

            narratives = await mcp.call(
                "get_narratives", from_date="2025-09-18", to_date="2025-09-22"
            )
            assert [n["date"] for n in narratives["narratives"]] == sorted(
                n["date"] for n in narratives["narratives"]
            )
            assert all(n["claims"] for n in narratives["narratives"])

            series = await mcp.call(
                "query_series",
                metric="activity.steps.total",
                from_date="2025-09-18",
                to_date="2025-09-22",
                aggregation="max",
            )
            assert series["value"] == max(p["value"] for p in series["points"] if p["value"])
            assert all(p["provenance"]["source_upload_ids"] for p in series["points"])

            # a journal claim's metric: its series carries that claim, value for value
            claim = next(c for c in claims if c["metric"].split(".")[0] in day["metrics"])
            claimed = await mcp.call(
                "query_series",
                metric=claim["metric"],
                from_date="2025-09-20",
                to_date="2025-09-20",
            )
            [point] = claimed["points"]
            assert claim in point["claims"] and point["value"] == claim["value"]
            assert all(c["metric"] == claim["metric"] for c in point["claims"])

            explained = await mcp.call("explain_metric", metric="glucose.tir_70_180_pct")
            assert "Battelino" in explained["citation"] and explained["unit"] == "% of readings"

            for bad in (
                mcp.call("get_day", day="20-09-2025" * 50),
                mcp.call("get_day", day="2031-01-01"),
                mcp.call(
                    "query_series",
                    metric="glucose.nope",
                    from_date="2025-09-18",
                    to_date="2025-09-22",
                ),
                mcp.call(
                    "query_series",
                    metric="activity.steps.total",
                    from_date="2025-09-22",
                    to_date="2025-09-18",
                ),
                mcp.call(
                    "query_series",
                    metric="activity.steps.total",
                    from_date="2025-09-18",
                    to_date="2025-09-22",
                    aggregation="mode",
                ),
                mcp.call("explain_metric", metric="made.up"),
            ):
                with pytest.raises(ToolFailed):
                    await bad

        log = (await api.http.get("/v1/me/assistant-audit", headers=api.auth(user))).json()
        tools_called = [e["tool"] for e in reversed(log["entries"])]
        assert tools_called == [
            "list_days",
            "get_day",
            "get_narratives",
            "query_series",
            "query_series",
            "explain_metric",
            "get_day",
            "get_day",
            "query_series",
            "query_series",
            "query_series",
            "explain_metric",
        ]
        assert log["total"] == 12
        assert [e["outcome"] for e in log["entries"][:6]] == ["error"] * 6
        assert log["entries"][5]["arguments"]["day"] == "20-09-2025" * 20 + "..."  # kept short
        assert log["entries"][-1]["arguments"] == {"limit": 366}
        assert all(e["client"] == "mcp-test-client" and e["token_id"] for e in log["entries"])
        paged = await api.http.get("/v1/me/assistant-audit?limit=4", headers=api.auth(user))
        assert len(paged.json()["entries"]) == 4 and paged.json()["next_before"]


async def test_another_persons_token_sees_nothing_and_bad_tokens_are_refused(
    settings: Settings, keys: services.KeySet, user: str, samples: list[Path]
) -> None:
    async with served_platform(settings, keys) as api:
        await upload_files(api, user, samples[:3])
        await process_all(api, user)
        base = str(api.http.base_url).rstrip("/")
        mine = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
        assert mine

        other = f"{user}-other"
        async with assistant(base, keys.mint(other)) as mcp:
            assert (await mcp.call("list_days"))["days"] == []  # not the first person's
            with pytest.raises(ToolFailed, match="no data"):
                await mcp.call("get_day", day=mine[0])
            series = await mcp.call(
                "query_series",
                metric="activity.steps.total",
                from_date=mine[-1],
                to_date=mine[0],
                aggregation="sum",
            )
            assert series["points"] == [] and series["value"] is None
        # the other person's calls are in their log, not in the first person's
        first = (await api.http.get("/v1/me/assistant-audit", headers=api.auth(user))).json()
        second = (await api.http.get("/v1/me/assistant-audit", headers=api.auth(other))).json()
        assert first["total"] == 0 and second["total"] == 3

        refused = {
            "expired": keys.mint(user, ttl=-3600),
            "no token": None,
            "wrong audience": keys.mint(user, aud="someone-else"),
            "write-only scope": keys.mint(user, scope="health:write"),
        }
        async with httpx.AsyncClient(timeout=30) as raw:
            for reason, token in refused.items():
                headers = dict(MCP_HEADERS)
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                response = await raw.post(f"{base}/mcp", json=INIT, headers=headers)
                expected = 403 if reason == "write-only scope" else 401
                assert response.status_code == expected, (reason, response.text)
                assert "www-authenticate" in response.headers
            big = await raw.post(
                f"{base}/mcp",
                content=b" " * (2 << 20),
                headers={**MCP_HEADERS, "Authorization": f"Bearer {keys.mint(user)}"},
            )
            assert big.status_code == 413 and "at most" in big.json()["detail"]
            garbage = await raw.post(
                f"{base}/mcp",
                content=b"{not json",
                headers={**MCP_HEADERS, "Authorization": f"Bearer {keys.mint(user)}",
                         "Content-Type": "application/json"},
            )  # fmt: skip
            assert 400 <= garbage.status_code < 500, garbage.text
            expired = await raw.post(
                f"{base}/mcp",
                json=INIT,
                headers={**MCP_HEADERS, "Authorization": f"Bearer {refused['expired']}"},
            )
            assert expired.json()["detail"] == "invalid token: expired"
        # the SDK's client fails on an expired token too
        with pytest.raises(BaseException) as failed:  # a group from the client's task group
            async with assistant(base, refused["expired"] or "") as mcp:
                await mcp.call("list_days")
        assert 401 in status_codes(failed.value), failed.value
        # a read-only scoped token is enough
        async with assistant(base, keys.mint(user, scope="health:read")) as mcp:
            assert (await mcp.call("list_days"))["count"] == len(mine)
        assert (await api.http.get("/v1/me/assistant-audit", headers=api.auth(user))).json()[
            "total"
        ] == 1
        # erasing my data erases the assistant's log of it
        assert (await api.http.delete("/v1/me/data", headers=api.auth(user))).status_code == 200
        log = await api.http.get("/v1/me/assistant-audit", headers=api.auth(user))
        assert log.json()["total"] == 0


async def test_serve_mcp_runs_as_its_own_process(
    production_settings: Settings, keys: services.KeySet, user: str, samples: list[Path]
) -> None:
    """`healthplatform serve mcp` as a real server process, on the production backends,
    reading what the API stored."""
    async with served_platform(production_settings, keys) as api:
        await upload_files(api, user, samples[:3])
        await process_all(api, user)
        days = (await api.http.get("/v1/days", headers=api.auth(user))).json()["days"]
    port = services.free_port()
    process = subprocess.Popen(
        [EXE, "serve", "mcp", "--host", "127.0.0.1", "--port", str(port)],
        env=settings_env(production_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get(f"{base}/health/live")).status_code == 200:
                        break
                assert process.poll() is None, process.stderr and process.stderr.read()
                await asyncio.sleep(0.1)
        async with assistant(base, keys.mint(user, scope="health:read")) as mcp:
            listed = await mcp.call("list_days")
            assert [d["date"] for d in listed["days"]] == days
        async with httpx.AsyncClient() as raw:
            expired = await raw.post(
                f"{base}/mcp",
                json=INIT,
                headers={**MCP_HEADERS, "Authorization": f"Bearer {keys.mint(user, ttl=-3600)}"},
            )
            assert expired.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
