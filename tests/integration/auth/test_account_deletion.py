"""``DELETE /account`` (issue 19 item 6): every session of the user ends (the auth service
and the revocation list the Health API reads refuse its tokens), every row of the user goes
in one transaction, the username is free again; another user is untouched. The ended
session ids are kept (without the user) while a token of them could be valid, so that the
revocation list can be published again after a failed publish or a restart.

Both backends (SQLite + memory, PostgreSQL + Redis). The end-to-end run through
``healthplatform up`` with health data: tests/integration/test_up_account_deletion.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from healthplatform.auth.app import create_auth_app
from healthplatform.auth.maintenance import run_maintenance
from healthplatform.auth.models import (
    Credential,
    DeviceSession,
    EndedSession,
    RefreshToken,
    User,
    utcnow,
)
from healthplatform.auth.revocations import keep_seconds, republish_recent
from healthplatform.auth.settings import AuthSettings
from healthplatform.core.revocation import MemoryRevocationList, RedisRevocationList
from healthplatform.db.engine import create_auth_engine, create_sessionmaker
from tests.integration.auth.conftest import NEW_CLIENT, AuthClient, open_client
from tests.integration.auth.test_old_clients import OpenApi
from tests.support.services import free_port

pytestmark = pytest.mark.integration


async def rows_of(auth: AuthClient, user_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each auth table belong to ``user_id``."""
    async with auth.service.res.sessions() as session:
        sessions = select(DeviceSession.id).where(DeviceSession.user_id == user_id)
        counts = {
            "users": select(func.count()).select_from(User).where(User.id == user_id),
            "credentials": select(func.count())
            .select_from(Credential)
            .where(Credential.user_id == user_id),
            "sessions": select(func.count()).select_from(sessions.subquery()),
            "refresh_tokens": select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.session_id.in_(sessions)),
        }
        return {name: int(await session.scalar(query) or 0) for name, query in counts.items()}


async def test_delete_account_ends_everything_and_frees_the_username(
    auth: AuthClient, username: str
) -> None:
    doc = OpenApi((await auth.http.get("/auth/openapi.json")).json())
    device = await auth.register(username)
    laptop = await auth.login(device, username)
    phone = await auth.login(device)  # a second device session
    other_name = f"other-{uuid.uuid4().hex[:8]}"
    other_device = await auth.register(other_name)
    other = await auth.login(other_device, other_name)
    as_other = auth.bearer(other["access_token"])
    other_before = (await auth.http.get("/devices", headers=as_other)).json()

    async with auth.service.res.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        user_id = user.id
        session_ids = [
            str(s)
            for s in await session.scalars(
                select(DeviceSession.id).where(DeviceSession.user_id == user_id)
            )
        ]
    assert len(session_ids) == 2
    assert (await rows_of(auth, user_id))["refresh_tokens"] == 2

    gone = await auth.http.delete("/account", headers=auth.bearer(phone["access_token"]))
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"success": True, "message": "account deleted"}
    doc.check_response("DELETE", "/account", gone)

    assert await rows_of(auth, user_id) == dict.fromkeys(
        ("users", "credentials", "sessions", "refresh_tokens"), 0
    )
    revocations = auth.service.res.revocations  # what the Health API's verifier reads
    for sid in session_ids:
        assert await revocations.is_revoked(sid), sid
    for token in (laptop["access_token"], phone["access_token"]):  # every session, not one
        for method, path in (("GET", "/devices"), ("DELETE", "/account")):
            refused = await auth.http.request(method, path, headers=auth.bearer(token))
            assert refused.status_code == 401, (method, path, refused.text)
            doc.check_response(method, path, refused)
    for tokens in (laptop, phone):
        body = {"refresh_token": tokens["refresh_token"]}
        refused = await auth.http.post("/token/refresh", json=body)
        assert refused.status_code == 401, refused.text
    # the passkey no longer signs in
    request_id, options = await auth.start_login()
    failed = await auth.complete("/authenticate/complete", request_id, device.get(options))
    assert failed.status_code == 401, failed.text
    unsigned = await auth.http.delete("/account")
    assert unsigned.status_code == 401
    doc.check_response("DELETE", "/account", unsigned)

    # the other user is untouched
    assert (await auth.http.get("/devices", headers=as_other)).json() == other_before
    assert (await auth.http.get("/passkeys", headers=as_other)).status_code == 200

    # the username is free again: a new account (a new user id) with a new passkey
    again = await auth.register(username)
    fresh = await auth.login(again, username)
    assert fresh["username"] == username
    async with auth.service.res.sessions() as session:
        reborn = await session.scalar(select(User).where(User.username == username))
        assert reborn is not None and reborn.id != user_id


async def test_unreachable_revocation_list_is_caught_up(
    auth_settings: AuthSettings, username: str
) -> None:
    """Nothing listens on the port: the list cannot be written at deletion time. The
    account is deleted all the same (the database is the record, as for logout) and the
    ended session ids, kept without the user, are published by the next republish pass."""
    down = RedisRevocationList(
        f"redis://127.0.0.1:{free_port()}/0", f"hp-test-{uuid.uuid4().hex[:8]}", keep_seconds=60
    )
    app = create_auth_app(auth_settings, revocations=down)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://auth", headers=NEW_CLIENT
        ) as http:
            auth = AuthClient(http, app, auth_settings)
            device = await auth.register(username)
            tokens = await auth.login(device, username)
            sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
            answer = await http.delete("/account", headers=auth.bearer(tokens["access_token"]))
            assert answer.status_code == 200, answer.text
            async with auth.service.res.sessions() as session:
                gone = await session.scalar(select(User).where(User.username == username))
                ended = set(await session.scalars(select(EndedSession.session_id)))
            assert gone is None and uuid.UUID(sid) in ended
            refused = await http.get("/devices", headers=auth.bearer(tokens["access_token"]))
            assert refused.status_code == 401
            # what the next republish pass (or a restarted process) publishes
            fresh = MemoryRevocationList(60)
            assert not await fresh.is_revoked(sid)
            await republish_recent(auth.service.res.sessions, fresh, auth_settings)
            assert await fresh.is_revoked(sid)
    await down.close()


async def test_maintenance_drops_ended_sessions_once_no_token_can_be_valid(
    fresh_auth_settings: Callable[..., AuthSettings],
) -> None:
    settings = fresh_auth_settings()
    async for auth in open_client(settings):
        device = await auth.register("leaving")
        tokens = await auth.login(device, "leaving")
        assert (
            await auth.http.delete("/account", headers=auth.bearer(tokens["access_token"]))
        ).status_code == 200
    window = timedelta(seconds=keep_seconds(settings))
    await run_maintenance(settings, now=utcnow() + window - timedelta(seconds=5))
    assert await ended_count(settings) == 1  # a token of it could still be valid
    await run_maintenance(settings, now=utcnow() + window + timedelta(seconds=5))
    assert await ended_count(settings) == 0


async def ended_count(settings: AuthSettings) -> int:
    engine = create_auth_engine(settings, application_name="test")
    try:
        async with create_sessionmaker(engine)() as session:
            return len(list(await session.scalars(select(EndedSession.session_id))))
    finally:
        await engine.dispose()
