"""Account deletion (issue 19 item 6): the signed-in user removes their account.

Order of the steps, in one database transaction:

1. lock the user row (a concurrent login waits, then finds no credential or user);
2. read every device session id of the user and publish them to the revocation list
   (:mod:`healthplatform.auth.revocations`) *before* the rows go: once deleted, the
   periodic republish can no longer find them. An unreachable list refuses the deletion
   (503, nothing deleted) rather than leave access tokens the Health API would accept;
3. delete refresh tokens, device sessions, passkeys and the user; commit.

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
from healthplatform.auth.resources import AuthResources
from healthplatform.auth.tokens import AccessClaims
from healthplatform.core.errors import DependencyUnavailable
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)


async def delete_account(res: AuthResources, principal: AccessClaims) -> int:
    """Delete the caller's account; the number of device sessions it ended."""
    user_id = uuid.UUID(principal.subject)
    async with transaction(res.sessions) as session:
        if await repo.lock_user(session, user_id) is None:
            raise unauthorized("unknown user", "unknown_user")
        session_ids = [str(sid) for sid in await repo.device_session_ids(session, user_id)]
        try:
            await res.revocations.revoke(session_ids)
        except DependencyUnavailable:
            log.warning("account not deleted: revocation list unreachable")
            raise
        await repo.delete_user_rows(session, user_id)
    metrics.SESSIONS_REVOKED.labels(reason="account_deleted").inc(len(session_ids))
    log.info("account deleted", extra={"user_id": str(user_id), "sessions_ended": len(session_ids)})
    return len(session_ids)
