"""Credentials for the Secrets the chart expects, and sealing them for Sealed Secrets.

The list of user-provided Secrets and their keys is the chart's values ``secrets.*`` (the
same list :func:`healthplatform_deploy.context.external_secrets` reads): each entry has a
``name`` and ``<something>Key`` fields naming the keys. The field name says what the value
is, so it says how to generate it (:data:`GENERATORS`); a new field without a generator is
an error, not a silently empty Secret.

Sealing follows the Sealed Secrets hybrid scheme (bitnami-labs/sealed-secrets,
``pkg/crypto``): a fresh 32-byte session key encrypts the value with AES-256-GCM under an
all-zero nonce (the key is used once), the session key is encrypted with RSA-OAEP (SHA-256,
MGF1-SHA-256) whose label binds the ciphertext to its scope, ``<namespace>/<name>`` for the
default *strict* scope; the result is ``uint16_be(len(rsa)) || rsa || aes_gcm(value)``,
base64 (standard alphabet) in ``spec.encryptedData``.
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from healthplatform_deploy.helm import merged_values
from healthplatform_deploy.kube import CHART_NAME, CHARTS_DIR, name_of, ref

SESSION_KEY_BYTES = 32
GCM_NONCE = bytes(12)
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits


def _access_key_id() -> str:
    return "HP" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(18))


@dataclass(frozen=True)
class Generator:
    description: str
    make: Callable[[], str]


# values field -> how its key's value is made. Passwords end up inside URLs
# (redis://:$(PASSWORD)@..., amqp://user:$(PASSWORD)@...): hex needs no escaping.
GENERATORS: dict[str, Generator] = {
    "usernameKey": Generator("`healthplatform`", lambda: "healthplatform"),
    "passwordKey": Generator(
        "password: 32 random bytes, hex (URL-safe)", lambda: secrets.token_hex(32)
    ),
    "keyEncryptionKeyKey": Generator(
        "32 random bytes, base64",
        lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    ),
    "accessKeyIdKey": Generator("20 characters A-Z0-9", _access_key_id),
    "secretAccessKeyKey": Generator("20 random bytes, hex", lambda: secrets.token_hex(20)),
}


@dataclass(frozen=True)
class SecretKey:
    field: str  # the values field naming the key, e.g. passwordKey
    key: str


@dataclass(frozen=True)
class ExpectedSecret:
    """One user-provided Secret of values ``secrets.<id>``."""

    id: str
    name: str
    keys: tuple[SecretKey, ...]


def expected_secrets(values: Mapping[str, Any]) -> list[ExpectedSecret]:
    """The user-provided Secrets and keys declared in the chart values ``secrets.*``."""
    found = []
    for secret_id, entry in (values.get("secrets") or {}).items():
        keys = tuple(
            SecretKey(field, str(key)) for field, key in entry.items() if field.endswith("Key")
        )
        unknown = [k.field for k in keys if k.field not in GENERATORS]
        if unknown:
            raise ValueError(f"secrets.{secret_id}: no generator for {unknown} (ops/secrets.py)")
        found.append(ExpectedSecret(secret_id, str(entry["name"]), keys))
    return found


def chart_values(values_files: Sequence[Path] = ()) -> dict[str, Any]:
    return merged_values(CHARTS_DIR / CHART_NAME, values_files)


def secret_manifest(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "healthplatform"},
        },
        "type": "Opaque",
        "stringData": dict(data),
    }


def generate(
    values: Mapping[str, Any],
    namespace: str,
    overrides: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """Plain Secret manifests with fresh random values for every expected Secret; an entry
    of ``overrides`` ((secret name, key) -> value) replaces a generated value (the OCI S3
    key pair comes from Terraform)."""
    expected = expected_secrets(values)
    overrides = overrides or {}
    known = {(s.name, k.key) for s in expected for k in s.keys}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"not an expected Secret key: {unknown} (known: {sorted(known)})")
    return [
        secret_manifest(
            s.name,
            namespace,
            {k.key: overrides.get((s.name, k.key)) or GENERATORS[k.field].make() for k in s.keys},
        )
        for s in expected
    ]


# --------------------------------------------------------------------------------------
# Sealing
# --------------------------------------------------------------------------------------


def load_public_key(pem: bytes, *, now: datetime | None = None) -> rsa.RSAPublicKey:
    """The RSA key of the controller's certificate (``kubeseal --fetch-cert``) or of a PEM
    public key. An expired certificate is refused: the controller has rotated its key."""
    if b"BEGIN CERTIFICATE" in pem:
        cert = x509.load_pem_x509_certificate(pem)
        if cert.not_valid_after_utc < (now or datetime.now(UTC)):
            raise ValueError(f"certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
        key: object = cert.public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("Sealed Secrets uses RSA keys; this is another kind of key")
    return key


def scope_label(namespace: str, name: str) -> bytes:
    """The OAEP label of the strict scope: the ciphertext only opens as this Secret."""
    return f"{namespace}/{name}".encode()


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    session_key = secrets.token_bytes(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(session_key, _oaep(label))
    body = AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)
    return len(wrapped).to_bytes(2, "big") + wrapped + body


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    if len(ciphertext) < 2:
        raise ValueError("ciphertext too short")
    size = int.from_bytes(ciphertext[:2], "big")
    if len(ciphertext) < 2 + size:
        raise ValueError("ciphertext too short")
    session_key = private_key.decrypt(ciphertext[2 : 2 + size], _oaep(label))
    return AESGCM(session_key).decrypt(GCM_NONCE, ciphertext[2 + size :], None)


def seal_value(public_key: rsa.RSAPublicKey, namespace: str, name: str, value: bytes) -> str:
    return base64.b64encode(
        hybrid_encrypt(public_key, value, scope_label(namespace, name))
    ).decode()


def unseal_value(private_key: rsa.RSAPrivateKey, namespace: str, name: str, sealed: str) -> bytes:
    """What the controller does (used to check a sealing key backup, and by the tests)."""
    return hybrid_decrypt(private_key, base64.b64decode(sealed), scope_label(namespace, name))


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """The values of a Secret manifest (``data`` is base64, ``stringData`` wins)."""
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data |= {k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()}
    return data


def seal(
    public_key: rsa.RSAPublicKey,
    secrets_: Iterable[Mapping[str, Any]],
    namespace: str | None = None,
) -> list[dict[str, Any]]:
    """SealedSecret manifests (strict scope) for Secret manifests. The namespace is the
    manifest's, else ``namespace``; one of them is required (it is part of the seal)."""
    sealed = []
    for secret in secrets_:
        if secret.get("kind") != "Secret":
            raise ValueError(f"not a Secret: {ref(dict(secret))}")
        name = name_of(dict(secret))
        ns = secret.get("metadata", {}).get("namespace") or namespace
        if not ns:
            raise ValueError(f"Secret {name}: no namespace (set --namespace)")
        encrypted = {
            key: seal_value(public_key, ns, name, value)
            for key, value in sorted(secret_data(secret).items())
        }
        template_meta = {"name": name, "namespace": ns}
        if secret.get("metadata", {}).get("labels"):
            template_meta["labels"] = dict(secret["metadata"]["labels"])
        sealed.append(
            {
                "apiVersion": "bitnami.com/v1alpha1",
                "kind": "SealedSecret",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "encryptedData": encrypted,
                    "template": {
                        "metadata": template_meta,
                        "type": secret.get("type", "Opaque"),
                    },
                },
            }
        )
    return sealed


def sealed_values(sealed: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A values file for the chart (security.sealedSecrets): ciphertext only, safe to commit."""
    data = {str(s["metadata"]["name"]): dict(s["spec"]["encryptedData"]) for s in sealed}
    return {"security": {"sealedSecrets": {"enabled": True, "encryptedData": data}}}


def dump(docs: Iterable[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False)
