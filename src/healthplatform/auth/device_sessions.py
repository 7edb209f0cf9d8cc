"""Refresh-token rotation, device sessions and the signed-in user's passkeys."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from healthplatform.auth import metrics
from healthplatform.auth import repository as repo
from healthplatform.auth.ceremony_steps import CeremonySteps
from healthplatform.auth.errors import CeremonyError, unauthorized
from healthplatform.auth.models import DeviceSession, User, utcnow
from healthplatform.auth.revocations import publish, republish_recent
from healthplatform.auth.schemas import (
    DeviceList,
    DeviceOut,
    PasskeyList,
    PasskeyOut,
    TokenResponse,
)
from healthplatform.auth.tokens import AccessClaims, hash_refresh_token
from healthplatform.core.errors import NotFound
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)


class DeviceSessions(CeremonySteps):
    """What a signed-in device does with its session: refresh, list, end; passkeys."""

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Rotate: the presented token is consumed and a new one issued. A token presented
        a second time revokes its whole family (it was stolen or leaked)."""
        token_hash = hash_refresh_token(refresh_token)
        key = await self.res.keys.signing_key()
        now = utcnow()
        reused: DeviceSession | None = None
        issued: tuple[User, DeviceSession, str] | None = None
        async with transaction(self.res.sessions) as session:
            row = await repo.get_refresh_token(session, token_hash)
            if row is None:
                raise unauthorized("invalid refresh token", "refresh_unknown")
            device = await repo.get_device_session(session, row.session_id)
            if device is None or device.revoked_at is not None:
                raise unauthorized("refresh token revoked", "refresh_revoked")
            user = await repo.get_user(session, device.user_id)
            if row.used_at is not None or not await repo.mark_refresh_token_used(
                session, token_hash, now
            ):
                await repo.revoke_device_session(
                    session, device.id, reason="refresh_reuse", now=now
                )
                reused = device
            elif row.expires_at <= now or device.expires_at <= now or user is None:
                raise unauthorized("refresh token expired", "refresh_expired")
            else:
                device.last_used_at = now
                device.expires_at = now + timedelta(seconds=self.settings.refresh_token_ttl)
                issued = (user, device, self._add_refresh_token(session, device))
        if issued is None:  # reuse: committed above, so the family stays revoked
            if reused is not None:
                await publish(self.res.revocations, [str(reused.id)])
                metrics.SESSIONS_REVOKED.labels(reason="refresh_reuse").inc()
                log.warning(
                    "refresh token reused: device session revoked",
                    extra={"user_id": str(reused.user_id), "session_id": str(reused.id)},
                )
            raise unauthorized("refresh token reuse detected; session revoked", "refresh_reuse")
        metrics.TOKEN_REFRESHES.inc()
        return self._token_response(key, *issued)

    async def check_session(self, principal: AccessClaims) -> None:
        """The auth service's own endpoints also refuse tokens of revoked sessions."""
        try:
            sid = uuid.UUID(principal.session_id)
        except ValueError as exc:
            raise unauthorized("invalid token: bad session", "token") from exc
        async with self.res.sessions() as session:
            device = await repo.get_device_session(session, sid)
        if (
            device is None
            or device.revoked_at is not None
            or str(device.user_id) != principal.subject
        ):
            raise unauthorized("session revoked", "session_revoked")

    async def list_devices(self, principal: AccessClaims) -> DeviceList:
        async with self.res.sessions() as session:
            rows = await repo.list_device_sessions(session, uuid.UUID(principal.subject), utcnow())
        return DeviceList(
            devices=[
                DeviceOut(
                    id=r.id,
                    label=r.label,
                    created_at=r.created_at,
                    last_used_at=r.last_used_at,
                    expires_at=r.expires_at,
                    current=str(r.id) == principal.session_id,
                )
                for r in rows
            ]
        )

    async def revoke_device(
        self, principal: AccessClaims, device_id: uuid.UUID, reason: str = "user"
    ) -> None:
        async with transaction(self.res.sessions) as session:
            done = await repo.revoke_device_session(
                session,
                device_id,
                reason=reason,
                now=utcnow(),
                user_id=uuid.UUID(principal.subject),
            )
        if not done:
            raise NotFound("no such device session")
        await publish(self.res.revocations, [str(device_id)])
        metrics.SESSIONS_REVOKED.labels(reason=reason).inc()

    async def logout(self, principal: AccessClaims) -> None:
        await self.revoke_device(principal, uuid.UUID(principal.session_id), reason="logout")

    async def list_passkeys(self, principal: AccessClaims) -> PasskeyList:
        async with self.res.sessions() as session:
            rows = await repo.list_credentials(session, uuid.UUID(principal.subject))
        return PasskeyList(
            passkeys=[
                PasskeyOut(
                    id=r.id,
                    name=r.name,
                    created_at=r.created_at,
                    last_used_at=r.last_used_at,
                    backed_up=r.backed_up,
                    device_type=r.device_type,
                    transports=list(r.transports),
                    aaguid=r.aaguid,
                )
                for r in rows
            ]
        )

    async def delete_passkey(self, principal: AccessClaims, passkey_id: uuid.UUID) -> None:
        """Remove a passkey (never the last one) and end the sessions it signed in."""
        user_id = uuid.UUID(principal.subject)
        now = utcnow()
        async with transaction(self.res.sessions) as session:
            owned = {c.id for c in await repo.list_credentials(session, user_id)}
            if passkey_id not in owned:
                raise NotFound("no such passkey")
            if len(owned) == 1:
                raise CeremonyError(
                    "cannot remove the last passkey", reason="last_passkey", status_code=400
                )
            revoked = await repo.revoke_sessions_of_credential(
                session, passkey_id, reason="passkey_removed", now=now
            )
            await repo.delete_credential(session, user_id, passkey_id)
        if revoked:
            await republish_recent(self.res.sessions, self.res.revocations, self.settings)
            metrics.SESSIONS_REVOKED.labels(reason="passkey_removed").inc(revoked)
