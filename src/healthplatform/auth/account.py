"""Account deletion (issue 19 item 6): the signed-in user removes their account.

In one database transaction: lock the user row (a concurrent login waits, then finds no
passkey or user), read every device session id of the user, record those ids in
``auth_ended_sessions`` (a random id and a time, nothing linking them to the user), delete
refresh tokens, device sessions, passkeys and the user; commit. Then publish the ids to the
revocation list (:mod:`healthplatform.auth.revocations`), as logout does: the database is
the record, a failed publish is retried by the periodic republish, which reads the ended
sessions too (the deleted device sessions can no longer tell it), and so does the pass at
start of a restarted local run. ``auth maintain`` drops the ids once no access token of
them can be valid.

Pending ceremonies are not keyed to the user (a request id, expiring after
``challenge_ttl``); one that completes later finds no user and is refused. The health data
is the Health API's: ``DELETE /v1/me/data`` (the web app calls it first).
"""

from __future__ import annotations

import logging
import uuid

from healthplatform.auth import metrics
from healthplatform.auth import repository as repo
from healthplatform.auth.errors import unauthorized
from healthplatform.auth.models import utcnow
from healthplatform.auth.resources import AuthResources
from healthplatform.auth.revocations import publish
from healthplatform.auth.tokens import AccessClaims
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)


async def delete_account(res: AuthResources, principal: AccessClaims) -> int:
    """Delete the caller's account; the number of device sessions it ended."""
    user_id = uuid.UUID(principal.subject)
    async with transaction(res.sessions) as session:
        if await repo.lock_user(session, user_id) is None:
            raise unauthorized("unknown user", "unknown_user")
        session_ids = await repo.device_session_ids(session, user_id)
        await repo.add_ended_sessions(session, session_ids, utcnow())
        await repo.delete_user_rows(session, user_id)
    await publish(res.revocations, [str(sid) for sid in session_ids])
    metrics.SESSIONS_REVOKED.labels(reason="account_deleted").inc(len(session_ids))
    log.info("account deleted", extra={"user_id": str(user_id), "sessions_ended": len(session_ids)})
    return len(session_ids)
