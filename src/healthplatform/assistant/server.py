"""The MCP server (official SDK, streamable HTTP, stateless): five read-only tools over the
caller's own data, each call audited. Authentication is the API's: the same bearer tokens,
verified by the same verifier, before the SDK sees the request (``McpEndpoint``)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from healthplatform.assistant import audit, data
from healthplatform.core.tokens import Principal
from healthplatform.runtime import Resources

PRINCIPAL_KEY = "healthplatform.principal"
RESOURCES_KEY = "healthplatform.resources"

INSTRUCTIONS = (
    "Read-only access to one person's own health data from Android Health Connect, as the "
    "Health Data AI Platform derived and verified it. Days are local dates (YYYY-MM-DD) on "
    "the person's clock. Every number in a journal is a claim with its metric, unit, window "
    "and source-record count; quote claims rather than recomputing. Metric names are paths "
    "such as glucose.tir_70_180_pct; explain_metric gives a definition and its citation."
)


def _caller(ctx: Context[Any, Any, Any]) -> tuple[Resources, Principal, str | None]:
    request = ctx.request_context.request
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict) or PRINCIPAL_KEY not in scope:
        raise ToolError("not authenticated")  # only reachable through McpEndpoint
    client = dict(request.headers).get("user-agent") if request is not None else None
    return scope[RESOURCES_KEY], scope[PRINCIPAL_KEY], client


async def _audited(
    ctx: Context[Any, Any, Any],
    tool: str,
    arguments: dict[str, Any],
    run: Callable[[Resources, str], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    res, principal, client = _caller(ctx)
    user = principal.user_id
    started = time.perf_counter()
    outcome, detail = "ok", None
    try:
        return await run(res, user)
    except data.ToolInputError as exc:
        outcome, detail = "error", str(exc)
        raise ToolError(str(exc)) from exc
    except Exception as exc:  # logged by the SDK; the person's log says it failed
        outcome, detail = "error", f"internal error ({type(exc).__name__})"
        raise
    finally:
        await audit.record(
            res,
            user=user,
            tool=tool,
            arguments=arguments,
            outcome=outcome,
            detail=detail,
            token_id=principal.token_id,
            client=client,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )


def build_server() -> FastMCP:
    with warnings.catch_warnings():
        # the SDK's own settings model warns about its lifespan field (pydantic-settings)
        warnings.filterwarnings("ignore", message="Field 'lifespan' has an incomplete")
        mcp = _new_server()
    _register(mcp)
    return mcp


def _new_server() -> FastMCP:
    return FastMCP(
        name="healthplatform",
        instructions=INSTRUCTIONS,
        stateless_http=True,  # any replica answers any request: no session to pin or hijack
        json_response=True,
        streamable_http_path="/mcp",
        # bearer tokens (never cookies) authenticate every request, so a rebinding page
        # has nothing to ride on; Host checks belong to the gateway
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def _register(mcp: FastMCP) -> None:
    @mcp.tool()
    async def list_days(ctx: Context[Any, Any, Any], limit: int = 366) -> dict[str, Any]:
        """Local dates that have data, newest first, with the domains each has."""
        return await _audited(
            ctx, "list_days", {"limit": limit}, lambda res, u: data.list_days(res, u, limit)
        )

    @mcp.tool()
    async def get_day(ctx: Context[Any, Any, Any], day: str) -> dict[str, Any]:
        """One day's metrics (by domain), clock, verified journal with its claims, and the
        provenance (definitions version, source uploads)."""
        return await _audited(
            ctx, "get_day", {"day": day}, lambda res, u: data.get_day(res, u, day)
        )

    @mcp.tool()
    async def get_narratives(
        ctx: Context[Any, Any, Any], from_date: str, to_date: str
    ) -> dict[str, Any]:
        """The verified daily journals from from_date to to_date (inclusive, <= 366 days),
        each with its claims."""
        return await _audited(
            ctx,
            "get_narratives",
            {"from_date": from_date, "to_date": to_date},
            lambda res, u: data.get_narratives(res, u, from_date, to_date),
        )

    @mcp.tool()
    async def query_series(
        ctx: Context[Any, Any, Any],
        metric: str,
        from_date: str,
        to_date: str,
        aggregation: str = "none",
    ) -> dict[str, Any]:
        """A metric's daily values from from_date to to_date (inclusive) with each day's
        provenance; aggregation none, mean, median, min, max, sum or count over the days
        that have a value (days without one are listed)."""
        args = {"metric": metric, "from_date": from_date, "to_date": to_date,
                "aggregation": aggregation}  # fmt: skip
        return await _audited(
            ctx,
            "query_series",
            args,
            lambda res, u: data.query_series(res, u, metric, from_date, to_date, aggregation),
        )

    @mcp.tool()
    async def explain_metric(ctx: Context[Any, Any, Any], metric: str) -> dict[str, Any]:
        """A metric's definition, unit and citation from the platform's metric registry."""

        async def run(res: Resources, user: str) -> dict[str, Any]:
            return data.explain_metric(metric)

        return await _audited(ctx, "explain_metric", {"metric": metric}, run)


def session_manager(mcp: FastMCP) -> StreamableHTTPSessionManager:
    mcp.streamable_http_app()  # creates the SDK's session manager
    return mcp.session_manager
