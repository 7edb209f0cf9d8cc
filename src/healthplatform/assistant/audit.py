"""The assistant audit log: one row per tool call, readable by the person it concerns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from healthplatform.db.models import AssistantAudit
from healthplatform.runtime import Resources


async def record(
    res: Resources,
    *,
    user: str,
    tool: str,
    arguments: dict[str, Any],
    outcome: str,
    detail: str | None,
    token_id: str | None,
    client: str | None,
    duration_ms: int,
) -> None:
    async with res.sessions.begin() as session:
        session.add(
            AssistantAudit(
                user_id=user,
                at=datetime.now(UTC),
                tool=tool,
                arguments={k: _short(v) for k, v in arguments.items()},
                outcome=outcome,
                detail=None if detail is None else detail[:2000],
                token_id=None if token_id is None else token_id[:64],
                client=None if client is None else client[:255],
                duration_ms=duration_ms,
            )
        )


def _short(value: Any) -> Any:
    """Arguments are the assistant's: a long string is kept to its first 200 characters."""
    return value[:200] + "..." if isinstance(value, str) and len(value) > 200 else value


async def entries(res: Resources, user: str, limit: int, before: int | None) -> dict[str, Any]:
    """Newest first; ``before`` (an entry id) pages back."""
    query = select(AssistantAudit).where(AssistantAudit.user_id == user)
    if before is not None:
        query = query.where(AssistantAudit.id < before)
    async with res.sessions() as session:
        rows = (
            await session.execute(query.order_by(AssistantAudit.id.desc()).limit(limit))
        ).scalars()
        items = [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "tool": r.tool,
                "arguments": r.arguments,
                "outcome": r.outcome,
                "detail": r.detail,
                "token_id": r.token_id,
                "client": r.client,
                "duration_ms": r.duration_ms,
            }
            for r in rows
        ]
        total = (
            await session.execute(select(func.count()).where(AssistantAudit.user_id == user))
        ).scalar_one()
    return {
        "entries": items,
        "total": total,
        "next_before": items[-1]["id"] if len(items) == limit else None,
    }
