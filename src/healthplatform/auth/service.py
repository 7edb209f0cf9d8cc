"""Passkey ceremonies, device sessions and refresh-token rotation.

Every refusal raises a :class:`~healthplatform.auth.errors.CeremonyError` (400 for a bad or
stale request, 401 for failed authentication) and counts ``hp_auth_failures_total{reason}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from healthplatform.auth import metrics
from healthplatform.auth import repository as repo
from healthplatform.auth.attestation import check_attestation_object, check_public_key
from healthplatform.auth.challenges import Ceremony, CeremonyKind, new_request_id
from healthplatform.auth.compat import credential_object
from healthplatform.auth.enumeration import decoy_descriptors, login_descriptors
from healthplatform.auth.errors import CeremonyError, bad_request, conflict, unauthorized
from healthplatform.auth.keys import SigningKey, b64url
from healthplatform.auth.limits import CLIENT_KEY
from healthplatform.auth.models import Credential, DeviceSession, RefreshToken, User, utcnow
from healthplatform.auth.resources import AuthResources
from healthplatform.auth.revocations import publish, republish_recent
from healthplatform.auth.schemas import (
    AuthenticateStartResponse,
    DeviceList,
    DeviceOut,
    PasskeyList,
    PasskeyOut,
    PublicKeyEnvelope,
    RegisterStartResponse,
    SuccessResponse,
    TokenResponse,
)
from healthplatform.auth.settings import UserVerification
from healthplatform.auth.tokens import (
    AccessClaims,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from healthplatform.auth.usernames import look_alike_taken, skeleton
from healthplatform.core.errors import NotFound
from healthplatform.db.engine import transaction

log = logging.getLogger(__name__)

PUBLIC_KEY_ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}
USERNAME_TAKEN = "username already registered"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _failure_reason(message: str) -> str:
    """A metric label for a py_webauthn refusal."""
    text = message.lower()
    for needle, reason in (
        ("rp id hash", "rp_id"),
        ("challenge", "challenge"),
        ("signature", "signature"),
        ("user verification", "user_verification"),
        ("not present", "user_presence"),
        ("user presence", "user_presence"),
        ("origin", "origin"),
        ("malformed", "malformed"),
    ):
        if needle in text:
            return reason
    return "verification"


def _descriptor(credential: Credential) -> PublicKeyCredentialDescriptor:
    transports = [_TRANSPORTS[t] for t in credential.transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential.credential_id, transports=transports or None)


class AuthService:
    """The relying party and token issuer over one set of :class:`AuthResources`."""

    def __init__(self, res: AuthResources) -> None:
        self.res = res
        self.settings = res.settings
        self._decoy_secret = res.encryptor.derive("hp-auth-decoy-credential-ids")

    # --- helpers ------------------------------------------------------------------------

    @property
    def _uv_required(self) -> bool:
        return self.settings.user_verification is UserVerification.required

    async def _store(self, ceremony: Ceremony) -> str:
        request_id = new_request_id()
        await self.res.challenges.put(
            request_id, ceremony.dumps(), self.settings.challenge_ttl, owner=CLIENT_KEY.get()
        )
        return request_id

    async def _take(self, request_id: str, kind: CeremonyKind) -> Ceremony:
        """The ceremony of ``request_id``, consumed (single use) whatever happens next."""
        raw = await self.res.challenges.take(request_id)
        if raw is None:
            raise bad_request("unknown, used or expired requestId", "request_id")
        ceremony = Ceremony.loads(raw)
        if ceremony.kind != kind:
            raise bad_request("requestId belongs to another ceremony", "request_id")
        return ceremony

    def _client_origin(self, client_data_json: bytes, expected_type: str, status: int) -> str:
        """Pre-check ``clientDataJSON`` so that origin problems get their own answer; the
        full verification (challenge, type, signature) follows in py_webauthn."""
        fail = unauthorized if status == 401 else bad_request
        try:
            data = json.loads(client_data_json)
            origin, kind = data["origin"], data["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise fail("malformed clientDataJSON", "malformed") from exc
        if not isinstance(origin, str) or kind != expected_type:
            raise fail("unexpected clientDataJSON type", "client_data_type")
        if not self.res.origins.allows(origin):
            log.warning("ceremony from a foreign origin", extra={"origin": origin[:200]})
            raise fail("origin not allowed", "origin")
        if data.get("crossOrigin") is True:
            raise fail("cross-origin ceremonies are not allowed", "cross_origin")
        return origin

    def _decoy_credential_id(self, username: str) -> bytes:
        """Stable fake credential id for an unknown username (no account enumeration)."""
        return hmac.new(self._decoy_secret, username.encode(), hashlib.sha256).digest()

    def _creation_options(
        self,
        *,
        username: str,
        display_name: str,
        user_handle: bytes,
        challenge: bytes,
        exclude: Sequence[Credential],
    ) -> dict[str, Any]:
        options = generate_registration_options(
            rp_id=self.settings.rp_id,
            rp_name=self.settings.rp_name,
            user_name=username,
            user_id=user_handle,
            user_display_name=display_name,
            challenge=challenge,
            timeout=self.settings.challenge_ttl * 1000,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement(self.settings.resident_key.value),
                user_verification=UserVerificationRequirement(
                    self.settings.user_verification.value
                ),
            ),
            exclude_credentials=[_descriptor(c) for c in exclude],
            supported_pub_key_algs=PUBLIC_KEY_ALGORITHMS,
        )
        result = options_to_json_dict(options)
        result["extensions"] = {"credProps": True}
        return result

    async def _start_creation(
        self, ceremony: Ceremony, user_handle: bytes, exclude: Sequence[Credential]
    ) -> RegisterStartResponse:
        challenge = secrets.token_bytes(32)
        options = self._creation_options(
            username=ceremony.username or "",
            display_name=ceremony.display_name or ceremony.username or "",
            user_handle=user_handle,
            challenge=challenge,
            exclude=exclude,
        )
        stored = Ceremony(
            kind=ceremony.kind,
            challenge=b64url(challenge),
            user_id=ceremony.user_id,
            username=ceremony.username,
            display_name=ceremony.display_name,
            user_handle=b64url(user_handle),
            passkey_name=ceremony.passkey_name,
        )
        return RegisterStartResponse(
            request_id=await self._store(stored),
            public_key_credential_creation_options=PublicKeyEnvelope(public_key=options),
        )

    # --- registration -------------------------------------------------------------------

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

    def _parse_registration(self, credential: str | dict[str, Any]) -> RegistrationCredential:
        try:
            return parse_registration_credential_json(credential_object(credential))
        except CeremonyError:
            raise
        except Exception as exc:  # any parse failure of client input is a 400, never a 500
            raise bad_request("malformed credential", "malformed") from exc

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
        parsed = self._parse_registration(credential)
        origin = self._client_origin(parsed.response.client_data_json, "webauthn.create", 400)
        check_attestation_object(parsed.response.attestation_object)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=_b64decode(ceremony.challenge),
                expected_rp_id=self.settings.rp_id,
                expected_origin=origin,
                require_user_verification=self._uv_required,
                supported_pub_key_algs=PUBLIC_KEY_ALGORITHMS,
            )
        except Exception as exc:  # py_webauthn raises several types; all are refusals
            reason = _failure_reason(str(exc))
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
                        user_handle=_b64decode(ceremony.user_handle or ""),
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

    # --- authentication -----------------------------------------------------------------

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

    def _parse_assertion(self, credential: str | dict[str, Any]) -> AuthenticationCredential:
        try:
            return parse_authentication_credential_json(credential_object(credential))
        except CeremonyError:
            raise
        except Exception as exc:  # any parse failure of client input is a 400, never a 500
            raise bad_request("malformed credential", "malformed") from exc

    async def complete_authentication(
        self, request_id: str, credential: str | dict[str, Any], device_label: str
    ) -> TokenResponse:
        ceremony = await self._take(request_id, "authenticate")
        parsed = self._parse_assertion(credential)
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
                expected_challenge=_b64decode(ceremony.challenge),
                expected_rp_id=self.settings.rp_id,
                expected_origin=origin,
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,  # checked below, after the signature
                require_user_verification=self._uv_required,
            )
        except Exception as exc:  # py_webauthn raises several types; all are refusals
            reason = _failure_reason(str(exc))
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

    def _add_refresh_token(self, session: AsyncSession, device: DeviceSession) -> str:
        token = new_refresh_token()
        session.add(
            RefreshToken(
                token_hash=hash_refresh_token(token),
                session_id=device.id,
                created_at=utcnow(),
                expires_at=device.expires_at,
            )
        )
        return token

    def _token_response(
        self, key: SigningKey, user: User, device: DeviceSession, refresh_token: str
    ) -> TokenResponse:
        access = issue_access_token(
            key,
            self.settings,
            subject=str(user.id),
            session_id=str(device.id),
            username=user.username,
        )
        return TokenResponse(
            access_token=access.token,
            expires_in=access.expires_in,
            username=user.username,
            refresh_token=refresh_token,
            refresh_expires_in=self.settings.refresh_token_ttl,
        )

    # --- refresh tokens and device sessions ----------------------------------------------

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

    # --- passkeys of the signed-in user ---------------------------------------------------

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
