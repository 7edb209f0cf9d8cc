"""A software WebAuthn authenticator + client for tests: ES256 (P-256) credentials,
``none`` attestation, discoverable credentials, and knobs to build every kind of bad
response (wrong origin, wrong rpId hash, tampered clientDataJSON, stale counter...)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cose_es256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = public_key.public_numbers()
    return cbor2.dumps(
        {
            1: 2,  # kty: EC2
            3: -7,  # alg: ES256
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


@dataclass
class SoftCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    username: str
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """One authenticator (think: one phone). ``origin`` is what its client reports."""

    origin: str
    user_verified: bool = True
    counter_step: int = 1
    aaguid: bytes = bytes(16)
    credentials: list[SoftCredential] = field(default_factory=list)

    # --- building blocks ------------------------------------------------------------------

    def client_data(
        self, kind: str, challenge: str, origin: str | None = None, **extra: Any
    ) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        data.update(extra)
        return json.dumps(data, separators=(",", ":")).encode()

    def _flags(self, *, attested: bool, uv: bool | None) -> int:
        flags = FLAG_UP | FLAG_BE | FLAG_BS
        if self.user_verified if uv is None else uv:
            flags |= FLAG_UV
        if attested:
            flags |= FLAG_AT
        return flags

    # --- navigator.credentials.create() ----------------------------------------------------

    def create(
        self,
        public_key: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        client_data: bytes | None = None,
        fmt: str = "none",
        att_stmt: dict[str, Any] | None = None,
        cose_key: bytes | None = None,
    ) -> dict[str, Any]:
        """A registration response (``PublicKeyCredential`` as JSON) for ``public_key``
        options; the new credential is kept for later logins."""
        rp = rp_id or public_key["rp"]["id"]
        excluded = {unb64u(c["id"]) for c in public_key.get("excludeCredentials", [])}
        if any(c.credential_id in excluded for c in self.credentials):
            raise RuntimeError("InvalidStateError: authenticator already registered")
        key = ec.generate_private_key(ec.SECP256R1())
        cred = SoftCredential(
            credential_id=os.urandom(32),
            private_key=key,
            rp_id=public_key["rp"]["id"],
            user_handle=unb64u(public_key["user"]["id"]),
            username=public_key["user"]["name"],
        )
        attested = (
            self.aaguid
            + struct.pack(">H", len(cred.credential_id))
            + cred.credential_id
            + (cose_key if cose_key is not None else cose_es256(key.public_key()))
        )
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(attested=True, uv=uv)])
            + struct.pack(">I", cred.sign_count)
            + attested
        )
        cdata = client_data or self.client_data(
            "webauthn.create", public_key["challenge"], origin, crossOrigin=False
        )
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt or {}, "authData": auth_data})
        self.credentials.append(cred)
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {
                "clientDataJSON": b64u(cdata),
                "attestationObject": b64u(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    # --- navigator.credentials.get() -------------------------------------------------------

    def pick(self, public_key: dict[str, Any]) -> SoftCredential:
        allowed = [unb64u(c["id"]) for c in public_key.get("allowCredentials", [])]
        rp = public_key.get("rpId")
        for cred in self.credentials:
            if cred.rp_id == rp and (not allowed or cred.credential_id in allowed):
                return cred
        raise RuntimeError("NotAllowedError: no matching credential")

    def get(
        self,
        public_key: dict[str, Any],
        *,
        credential: SoftCredential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        counter: int | None = None,
        user_handle: bytes | bool | None = True,
        client_data: bytes | None = None,
        tamper: Callable[[bytes], bytes] | None = None,
    ) -> dict[str, Any]:
        """An assertion (``PublicKeyCredential`` as JSON). ``tamper`` edits the
        clientDataJSON *after* it was signed."""
        cred = credential or self.pick(public_key)
        cred.sign_count = cred.sign_count + self.counter_step if counter is None else counter
        auth_data = (
            hashlib.sha256((rp_id or cred.rp_id).encode()).digest()
            + bytes([self._flags(attested=False, uv=uv)])
            + struct.pack(">I", cred.sign_count)
        )
        cdata = client_data or self.client_data(
            "webauthn.get", public_key["challenge"], origin, crossOrigin=False
        )
        signature = cred.private_key.sign(
            auth_data + hashlib.sha256(cdata).digest(), ec.ECDSA(hashes.SHA256())
        )
        if tamper is not None:
            cdata = tamper(cdata)
        response: dict[str, Any] = {
            "clientDataJSON": b64u(cdata),
            "authenticatorData": b64u(auth_data),
            "signature": b64u(signature),
        }
        if user_handle is True:
            response["userHandle"] = b64u(cred.user_handle)
        elif isinstance(user_handle, bytes):
            response["userHandle"] = b64u(user_handle)
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }
