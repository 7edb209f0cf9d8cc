"""Registration ceremonies: a new account's first passkey, and one more passkey for a
signed-in user."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from webauthn import verify_registration_response
from webauthn.helpers import parse_registration_credential_json

from healthplatform.auth import metrics
from healthplatform.auth import repository as repo
from healthplatform.auth.attestation import check_attestation_object, check_public_key
from healthplatform.auth.ceremony_steps import (
    PUBLIC_KEY_ALGORITHMS,
    CeremonySteps,
    b64decode,
    failure_reason,
    parse_credential,
)
from healthplatform.auth.challenges import Ceremony, CeremonyKind
from healthplatform.auth.errors import bad_request, conflict, unauthorized
from healthplatform.auth.models import Credential, User, utcnow
from healthplatform.auth.schemas import RegisterStartResponse, SuccessResponse
from healthplatform.auth.tokens import AccessClaims
from healthplatform.auth.usernames import look_alike_taken, skeleton
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)

USERNAME_TAKEN = "username already registered"


class Registration(CeremonySteps):
    """Creating passkeys: the account's first, or one more of a signed-in user."""

    async def start_registration(
        self, username: str, display_name: str | None
    ) -> RegisterStartResponse:
        """Options for a new account's first passkey (the account exists only once the
        ceremony completes)."""
        async with self.res.sessions() as session:
            if await look_alike_taken(session, username):
                raise conflict(USERNAME_TAKEN, "username_taken")
        ceremony = Ceremony(
            kind="register",
            challenge="",
            username=username,
            display_name=display_name or username,
        )
        return await self._start_creation(ceremony, secrets.token_bytes(32), exclude=())

    async def start_add_passkey(
        self, principal: AccessClaims, name: str | None
    ) -> RegisterStartResponse:
        """Options for one more passkey of a signed-in user (same user handle)."""
        user_id = uuid.UUID(principal.subject)
        async with self.res.sessions() as session:
            user = await repo.get_user(session, user_id)
            if user is None:
                raise unauthorized("unknown user", "unknown_user")
            existing = await repo.list_credentials(session, user_id)
        if len(existing) >= self.settings.max_passkeys_per_user:
            raise bad_request("passkey limit reached", "passkey_limit")
        ceremony = Ceremony(
            kind="add_passkey",
            challenge="",
            user_id=str(user.id),
            username=user.username,
            display_name=user.display_name,
            passkey_name=name,
        )
        return await self._start_creation(ceremony, user.user_handle, exclude=existing)

    async def complete_registration(
        self,
        request_id: str,
        credential: str | dict[str, Any],
        principal: AccessClaims | None = None,
    ) -> SuccessResponse:
        kind: CeremonyKind = "add_passkey" if principal is not None else "register"
        ceremony = await self._take(request_id, kind)
        if principal is not None and ceremony.user_id != principal.subject:
            raise bad_request("requestId belongs to another user", "request_id")
        parsed = parse_credential(parse_registration_credential_json, credential)
        origin = self._client_origin(parsed.response.client_data_json, "webauthn.create", 400)
        check_attestation_object(parsed.response.attestation_object)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=b64decode(ceremony.challenge),
                expected_rp_id=self.settings.rp_id,
                expected_origin=origin,
                require_user_verification=self._uv_required,
                supported_pub_key_algs=PUBLIC_KEY_ALGORITHMS,
            )
        except Exception as exc:  # py_webauthn raises several types; all are refusals
            reason = failure_reason(str(exc))
            log.info("registration refused", extra={"reason": reason, "error": str(exc)[:200]})
            raise bad_request(f"registration failed: {reason}", reason) from exc
        check_public_key(verified.credential_public_key)
        now = utcnow()
        transports = [t.value for t in parsed.response.transports or []]
        try:
            async with transaction(self.res.sessions) as session:
                if await repo.get_credential(session, verified.credential_id) is not None:
                    raise bad_request("credential already registered", "duplicate_credential")
                if ceremony.kind == "register":
                    username = ceremony.username or ""
                    if await look_alike_taken(session, username):
                        raise conflict(USERNAME_TAKEN, "username_taken")
                    user = User(
                        id=uuid.uuid4(),
                        username=username,
                        username_skeleton=skeleton(username),
                        display_name=ceremony.display_name or username,
                        user_handle=b64decode(ceremony.user_handle or ""),
                        created_at=now,
                    )
                    session.add(user)
                    await session.flush()
                else:
                    user_id = uuid.UUID(ceremony.user_id or "")
                    found = await repo.get_user(session, user_id)
                    if found is None:
                        raise unauthorized("unknown user", "unknown_user")
                    user = found
                    count = await repo.count_credentials(session, user.id)
                    if count >= self.settings.max_passkeys_per_user:
                        raise bad_request("passkey limit reached", "passkey_limit")
                row = Credential(
                    id=uuid.uuid4(),
                    user_id=user.id,
                    credential_id=verified.credential_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=transports,
                    aaguid=verified.aaguid,
                    device_type=verified.credential_device_type.value,
                    backed_up=verified.credential_backed_up,
                    name=ceremony.passkey_name or "Passkey",
                    created_at=now,
                )
                session.add(row)
        except IntegrityError as exc:  # a concurrent registration won the race
            raise conflict("username or credential already registered", "conflict") from exc
        kind_label = "account" if ceremony.kind == "register" else "passkey"
        metrics.REGISTRATIONS.labels(kind=kind_label).inc()
        log.info("passkey registered", extra={"user_id": str(user.id), "kind": kind_label})
        return SuccessResponse(message="Registration successful", passkey_id=row.id)
