"""A platform served over a real socket (uvicorn) and the MCP SDK's own client against it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from healthplatform.apps.api import create_app
from healthplatform.settings import Settings
from tests.conftest import ApiClient
from tests.support import services


@asynccontextmanager
async def served_platform(settings: Settings, keys: services.KeySet) -> AsyncIterator[ApiClient]:
    app = create_app(settings)
    port = services.free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "the platform did not start"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield ApiClient(client, keys, app)
    finally:
        server.should_exit = True
        await task


class Assistant:
    """An MCP client session; ``call`` returns a tool's JSON answer or raises ToolFailed."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.session.call_tool(tool, arguments)
        text = "".join(c.text for c in result.content if c.type == "text")
        if result.isError:
            raise ToolFailed(text)
        answer: dict[str, Any] = json.loads(text)
        return answer


class ToolFailed(Exception):
    pass


@asynccontextmanager
async def assistant(base_url: str, token: str) -> AsyncIterator[Assistant]:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "mcp-test-client"}
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield Assistant(session)
