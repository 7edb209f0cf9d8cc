"""The person's choice about AI training: recorded with its time and the version of the
statement they answered; off until they opt in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from healthplatform.db.models import Consent, DailyMetrics
from healthplatform.etl import person_jobs
from healthplatform.etl.repository import AI_TRAINING
from healthplatform.runtime import Resources
from healthplatform.storage.layout import training_prefix

VERSION = "2026-12-06"
STATEMENT = (
    "Your daily narratives (the text and the numbers behind it, without your name or account) "
    "may be used to train AI models that write health narratives. Your uploads and metrics "
    "stay yours either way: you can export and delete them at any time. Saying no changes "
    "nothing else; you can change your answer at any time, and saying no later deletes the "
    "training examples made from your data."
)


async def consent_state(res: Resources, user: str) -> dict[str, Any]:
    async with res.engine.connect() as conn:
        row = (
            await conn.execute(
                select(Consent.granted, Consent.version, Consent.decided_at)
                .where(Consent.user_id == user, Consent.purpose == AI_TRAINING)
                .order_by(Consent.id.desc())
                .limit(1)
            )
        ).first()
    return {
        "purpose": AI_TRAINING,
        "granted": bool(row and row.granted),
        "version": row.version if row else None,
        "decided_at": row.decided_at if row else None,
        "statement": STATEMENT,
        "statement_version": VERSION,
    }


async def decide(res: Resources, user: str, granted: bool) -> dict[str, Any]:
    """Record the choice. Yes (from no): the worker writes the training examples of every
    day. No: the examples are deleted now."""
    before = (await consent_state(res, user))["granted"]
    async with res.engine.begin() as conn:
        await conn.execute(
            insert(Consent),
            [
                {
                    "user_id": user,
                    "purpose": AI_TRAINING,
                    "granted": granted,
                    "version": VERSION,
                    "decided_at": datetime.now(UTC),
                }
            ],
        )
        if granted and not before:
            await person_jobs.request(conn, user, all_days=True)
        elif not granted:
            await conn.execute(
                update(DailyMetrics).where(DailyMetrics.user_id == user).values(training_key=None)
            )
    if not granted:
        await res.store.delete_prefix(training_prefix(user))
    return await consent_state(res, user)
