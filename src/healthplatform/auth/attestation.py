"""Checks of a registration that py_webauthn leaves out: a ``none`` attestation carries no
statement, and the credential public key is what its ``alg`` declares (key type, curve,
size) and loads as such a key."""

from __future__ import annotations

from typing import Any

from webauthn.helpers import decoded_public_key_to_cryptography, parse_cbor
from webauthn.helpers.decode_credential_public_key import decode_credential_public_key

from healthplatform.auth.errors import CeremonyError, bad_request

# COSE labels and values (RFC 9052/9053)
KTY, ALG, CRV, X, Y, N, E = 1, 3, -1, -2, -3, -1, -2
KTY_OKP, KTY_EC2, KTY_RSA = 1, 2, 3
CRV_P256, CRV_ED25519 = 1, 6
ALG_ES256, ALG_EDDSA, ALG_RS256 = -7, -8, -257
MIN_RSA_BITS = 2048


def _refuse(message: str) -> CeremonyError:
    return bad_request(f"registration failed: {message}", "attestation")


def check_attestation_object(raw: bytes) -> None:
    """``fmt: none`` means no attestation at all: a statement next to it is refused."""
    try:
        decoded: Any = parse_cbor(raw)
    except Exception as exc:  # any CBOR failure of client input is a 400
        raise _refuse("malformed attestationObject") from exc
    if not isinstance(decoded, dict):
        raise _refuse("malformed attestationObject")
    statement = decoded.get("attStmt")
    if not isinstance(statement, dict):
        raise _refuse("attestation statement missing")
    if decoded.get("fmt") == "none" and statement:
        raise _refuse("fmt none with a non-empty attestation statement")


def _matches(key: dict[Any, Any]) -> bool:
    alg, kty = key.get(ALG), key.get(KTY)
    if alg == ALG_ES256:
        return (
            kty == KTY_EC2
            and key.get(CRV) == CRV_P256
            and isinstance(key.get(X), bytes)
            and isinstance(key.get(Y), bytes)
            and len(key[X]) == 32
            and len(key[Y]) == 32
        )
    if alg == ALG_EDDSA:
        x = key.get(X)
        return kty == KTY_OKP and key.get(CRV) == CRV_ED25519 and isinstance(x, bytes)
    if alg == ALG_RS256:
        n, e = key.get(N), key.get(E)
        return (
            kty == KTY_RSA
            and isinstance(n, bytes)
            and isinstance(e, bytes)
            and int.from_bytes(n, "big").bit_length() >= MIN_RSA_BITS
        )
    return False


def check_public_key(cose_key: bytes) -> None:
    """The COSE key's type, curve and size match its declared ``alg``, and it loads."""
    try:
        key: Any = parse_cbor(cose_key)
    except Exception as exc:  # client input
        raise _refuse("malformed credential public key") from exc
    if not isinstance(key, dict) or not _matches(key):
        raise _refuse("credential public key does not match its declared algorithm")
    try:
        decoded_public_key_to_cryptography(decode_credential_public_key(cose_key))
    except Exception as exc:  # not a point on the curve, bad length...
        raise _refuse("credential public key is not a valid key") from exc
