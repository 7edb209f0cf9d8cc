"""The passkey relying party and token issuer: registration (:mod:`.registration`),
sign-in (here), refresh tokens and device sessions (:mod:`.device_sessions`).

Every refusal raises a :class:`~healthplatform.auth.errors.CeremonyError` (400 for a bad or
stale request, 401 for failed authentication) and counts ``hp_auth_failures_total{reason}``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any

from webauthn import generate_authentication_options, verify_authentication_response
from webauthn.helpers import options_to_json_dict, parse_authentication_credential_json
from webauthn.helpers.structs import (
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from healthplatform.auth import metrics
from healthplatform.auth import repository as repo
from healthplatform.auth.ceremony_steps import b64decode, failure_reason, parse_credential
from healthplatform.auth.challenges import Ceremony
from healthplatform.auth.device_sessions import DeviceSessions
from healthplatform.auth.enumeration import decoy_descriptors, login_descriptors
from healthplatform.auth.errors import unauthorized
from healthplatform.auth.keys import b64url
from healthplatform.auth.models import DeviceSession, utcnow
from healthplatform.auth.registration import Registration
from healthplatform.auth.schemas import AuthenticateStartResponse, PublicKeyEnvelope, TokenResponse
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)


class AuthService(Registration, DeviceSessions):
    """The relying party and token issuer over one set of :class:`AuthResources`."""

    async def start_authentication(self, username: str | None) -> AuthenticateStartResponse:
        """With a username: its credentials (or a decoy if it is unknown); without:
        an empty allow list for a discoverable credential (usernameless)."""
        allow: list[PublicKeyCredentialDescriptor] = []
        user_id: str | None = None
        if username is not None:
            async with self.res.sessions() as session:  # one query, known or not
                found, allow = await login_descriptors(session, username)
            if found is not None:
                user_id = str(found)
            else:
                allow = decoy_descriptors(self._decoy_credential_id(username))
        challenge = secrets.token_bytes(32)
        options = generate_authentication_options(
            rp_id=self.settings.rp_id,
            challenge=challenge,
            timeout=self.settings.challenge_ttl * 1000,
            allow_credentials=allow,
            user_verification=UserVerificationRequirement(self.settings.user_verification.value),
        )
        ceremony = Ceremony(
            kind="authenticate", challenge=b64url(challenge), user_id=user_id, username=username
        )
        return AuthenticateStartResponse(
            request_id=await self._store(ceremony),
            public_key_credential_request_options=PublicKeyEnvelope(
                public_key=options_to_json_dict(options)
            ),
        )

    async def complete_authentication(
        self, request_id: str, credential: str | dict[str, Any], device_label: str
    ) -> TokenResponse:
        ceremony = await self._take(request_id, "authenticate")
        parsed = parse_credential(parse_authentication_credential_json, credential)
        origin = self._client_origin(parsed.response.client_data_json, "webauthn.get", 401)
        async with self.res.sessions() as session:
            stored = await repo.get_credential(session, parsed.raw_id)
            user = await repo.get_user(session, stored.user_id) if stored else None
        if stored is None or user is None:
            raise unauthorized("authentication failed", "unknown_credential")
        if ceremony.username is not None and ceremony.user_id != str(user.id):
            raise unauthorized("authentication failed", "credential_mismatch")
        handle = parsed.response.user_handle
        if handle is None and ceremony.username is None:
            raise unauthorized("authentication failed: userHandle missing", "user_handle")
        if handle is not None and not hmac.compare_digest(handle, user.user_handle):
            raise unauthorized("authentication failed", "user_handle")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=b64decode(ceremony.challenge),
                expected_rp_id=self.settings.rp_id,
                expected_origin=origin,
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,  # checked below, after the signature
                require_user_verification=self._uv_required,
            )
        except Exception as exc:  # py_webauthn raises several types; all are refusals
            reason = failure_reason(str(exc))
            log.info("assertion refused", extra={"reason": reason, "error": str(exc)[:200]})
            raise unauthorized(f"authentication failed: {reason}", reason) from exc
        new_count = verified.new_sign_count
        if (new_count or stored.sign_count) and new_count <= stored.sign_count:
            log.warning(
                "signature counter did not increase: possible cloned authenticator",
                extra={
                    "user_id": str(user.id),
                    "passkey_id": str(stored.id),
                    "stored_count": stored.sign_count,
                    "received_count": new_count,
                },
            )
            raise unauthorized("authentication failed: signature counter regression", "counter")
        key = await self.res.keys.signing_key()
        now = utcnow()
        async with transaction(self.res.sessions) as session:
            moved = await repo.advance_sign_count(
                session, stored.id, expected=stored.sign_count, new=new_count, now=now
            )
            if not moved:
                raise unauthorized(
                    "authentication failed: concurrent use of the passkey", "counter"
                )
            device = DeviceSession(
                id=uuid.uuid4(),
                user_id=user.id,
                credential_pk=stored.id,
                label=device_label[:200] or "unknown device",
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl),
            )
            session.add(device)
            await session.flush()
            refresh_token = self._add_refresh_token(session, device)
        metrics.LOGINS.labels(mode="username" if ceremony.username else "usernameless").inc()
        log.info("login", extra={"user_id": str(user.id), "session_id": str(device.id)})
        return self._token_response(key, user, device, refresh_token)
