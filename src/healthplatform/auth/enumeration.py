"""Decoy login options for a username that has no account, shaped like a real account's:
one or two credential descriptors with the transports and id lengths real passkeys have,
all derived from a keyed hash of the name (stable across requests, so repeating the
request reveals nothing either)."""

from __future__ import annotations

import hashlib

from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

T = AuthenticatorTransport
# transports as browsers and phones report them for passkeys and security keys
TRANSPORT_SETS: tuple[tuple[AuthenticatorTransport, ...], ...] = (
    (T.HYBRID, T.INTERNAL),
    (T.HYBRID, T.INTERNAL),
    (T.INTERNAL,),
    (T.NFC, T.USB),
)
ID_LENGTHS = (16, 20, 32, 32)  # Android, Apple, Windows Hello / most authenticators


def decoy_descriptors(seed: bytes) -> list[PublicKeyCredentialDescriptor]:
    """One or two descriptors derived from ``seed`` (a secret-keyed hash of the name)."""
    stream = hashlib.shake_256(seed).digest(2 + 2 * 64)
    count = 1 + stream[0] % 2
    result = []
    for i in range(count):
        chunk = stream[2 + i * 64 : 2 + (i + 1) * 64]
        length = ID_LENGTHS[chunk[0] % len(ID_LENGTHS)]
        transports = TRANSPORT_SETS[chunk[1] % len(TRANSPORT_SETS)]
        result.append(
            PublicKeyCredentialDescriptor(id=chunk[2 : 2 + length], transports=list(transports))
        )
    return result
