"""The steps every passkey ceremony shares (the ceremony store, client data, creation
options, credential parsing) and the token answer of a sign-in or refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import generate_registration_options
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from healthplatform.auth.challenges import Ceremony, CeremonyKind, new_request_id
from healthplatform.auth.compat import credential_object
from healthplatform.auth.errors import CeremonyError, bad_request, unauthorized
from healthplatform.auth.keys import SigningKey, b64url
from healthplatform.auth.limits import CLIENT_KEY
from healthplatform.auth.models import Credential, DeviceSession, RefreshToken, User, utcnow
from healthplatform.auth.resources import AuthResources
from healthplatform.auth.schemas import PublicKeyEnvelope, RegisterStartResponse, TokenResponse
from healthplatform.auth.settings import UserVerification
from healthplatform.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token

log = logging.getLogger(__name__)
CredentialT = TypeVar("CredentialT")

PUBLIC_KEY_ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}


def b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def failure_reason(message: str) -> str:
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


def parse_credential(
    parse: Callable[[dict[str, Any]], CredentialT], credential: str | dict[str, Any]
) -> CredentialT:
    """``credential`` parsed by py_webauthn's ``parse``."""
    try:
        return parse(credential_object(credential))
    except CeremonyError:
        raise
    except Exception as exc:  # any parse failure of client input is a 400, never a 500
        raise bad_request("malformed credential", "malformed") from exc


class CeremonySteps:
    """The relying party's shared state over one set of :class:`AuthResources`."""

    def __init__(self, res: AuthResources) -> None:
        self.res = res
        self.settings = res.settings
        self._decoy_secret = res.encryptor.derive("hp-auth-decoy-credential-ids")

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
