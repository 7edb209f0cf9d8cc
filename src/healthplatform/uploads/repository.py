"""All SQL of the uploads domain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from healthplatform.db.models import Upload, UploadStatus


class UploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_user(self, user_id: str, upload_id: uuid.UUID) -> Upload | None:
        return (
            await self.session.execute(
                select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
            )
        ).scalar_one_or_none()

    async def get(self, upload_id: uuid.UUID) -> Upload | None:
        return await self.session.get(Upload, upload_id)

    async def get_by_sha(self, user_id: str, sha256: str) -> Upload | None:
        return (
            await self.session.execute(
                select(Upload).where(Upload.user_id == user_id, Upload.sha256 == sha256)
            )
        ).scalar_one_or_none()

    async def history(
        self, query: Select[Upload], limit: int, offset: int
    ) -> tuple[list[Upload], int]:
        total = (
            await self.session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (
            (
                await self.session.execute(
                    query.order_by(Upload.created_at.desc(), Upload.id).limit(limit).offset(offset)
                )
            )
            .scalars()
            .all()
        )
        return list(rows), int(total)

    async def object_key_referenced(self, key: str) -> bool:
        return (
            await self.session.execute(select(func.count()).where(Upload.object_key == key))
        ).scalar_one() > 0

    @staticmethod
    async def delete_for_user_conn(conn: AsyncConnection, user_id: str) -> int:
        result = await conn.execute(delete(Upload).where(Upload.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)

    async def transition(
        self,
        upload_id: uuid.UUID,
        allowed_from: tuple[UploadStatus, ...],
        to: UploadStatus,
        **values: object,
    ) -> bool:
        """Move an upload to ``to`` only from one of ``allowed_from``; False if it was not."""
        result = await self.session.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status.in_([s.value for s in allowed_from]))
            .values(status=to.value, updated_at=datetime.now(UTC), **values)
        )
        return bool(getattr(result, "rowcount", 0))
