"""`DELETE /v1/me/data` leaves nothing of the person in the outbox: no row keeps an
upload's id, object key or hash for the outbox retention period (issue 17, item 6)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from healthplatform.core.identity import user_key
from healthplatform.db.models import OutboxEvent
from tests.conftest import ApiClient

pytestmark = pytest.mark.integration


async def outbox_texts(api: ApiClient) -> list[str]:
    engine = api.app.state.resources.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxEvent.payload, OutboxEvent.headers))).all()
    return [repr(payload) + repr(headers) for payload, headers in rows]


async def test_erasure_purges_the_outbox(api: ApiClient, samples: list[Path]) -> None:
    user, other = f"user-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    secrets: set[str] = {user_key(user)}
    for path in samples[:3]:
        response = await api.upload(user, path.name, path.read_bytes())
        assert response.status_code == 202, response.text
        body = response.json()
        secrets |= {body["correlation_id"], body["object_key"]}
    kept = await api.upload(other, samples[0].name, samples[0].read_bytes())
    assert kept.status_code == 202
    before = await outbox_texts(api)
    assert any(user_key(user) in text for text in before), "the uploads wrote events"

    response = await api.http.delete("/v1/me/data", headers=api.auth(user))
    assert response.status_code == 200, response.text

    after = await outbox_texts(api)
    leaked = [text for text in after if any(secret in text for secret in secrets)]
    assert leaked == []
    assert any(kept.json()["correlation_id"] in text for text in after), "others' stay"
