"""Issue 17, item 6 on the auth side: no account enumeration through `/authenticate/start`
(shape and timing), no look-alike usernames, no `none` attestation with a statement, no
credential key that is not what its algorithm says."""

from __future__ import annotations

import random
import statistics
import time
import uuid

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy import event, select, update

from healthplatform.auth.models import User
from healthplatform.auth.usernames import refresh_skeletons, skeleton
from tests.integration.auth.conftest import ORIGIN, AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator

pytestmark = pytest.mark.integration

CYRILLIC_A = "\u0430"  # looks like the Latin a


# --- enumeration ------------------------------------------------------------------------------


def shape(options: dict[str, object]) -> object:
    """The options with every value replaced by its type (lists of entries keep their
    length)."""
    if isinstance(options, dict):
        return {k: shape(v) for k, v in sorted(options.items()) if k != "challenge"}
    if isinstance(options, list):  # transports: which ones varies between real passkeys too
        if all(isinstance(v, str) for v in options):
            return "list[str]"
        return [shape(v) for v in options]
    return type(options).__name__


async def test_known_and_unknown_names_get_the_same_shape(auth: AuthClient) -> None:
    for _ in range(8):  # decoys have one or two entries: compare like with like
        known = f"known-{uuid.uuid4().hex[:8]}"
        await auth.register(known)
        _, real = await auth.start_login(known)
        ghost = f"ghost-{uuid.uuid4().hex[:8]}"
        _, decoy = await auth.start_login(ghost)
        assert set(decoy) == set(real)
        for entry in decoy["allowCredentials"] + real["allowCredentials"]:
            assert set(entry) == {"id", "type", "transports"} and entry["transports"]
        if len(decoy["allowCredentials"]) == 1:
            assert shape(decoy) == shape(real)
            return
    raise AssertionError("eight unknown names all drew two decoys")


async def test_known_and_unknown_names_cost_the_same(auth: AuthClient) -> None:
    """The same database statements for a known and an unknown name (the strict check: it
    failed with one query more for a known name), and about the same time: the median of
    paired, interleaved differences, bounded loosely (this machine is shared, and a single
    request's time varies by milliseconds under load)."""
    known = f"known-{uuid.uuid4().hex[:8]}"
    await auth.register(known)
    engine = auth.service.res.engine.sync_engine
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    costs: dict[str, list[str]] = {}
    event.listen(engine, "before_cursor_execute", record)
    try:
        for kind, name in (("known", known), ("unknown", f"ghost-{uuid.uuid4().hex[:8]}")):
            statements.clear()
            response = await auth.http.post("/authenticate/start", json={"username": name})
            assert response.status_code == 200
            costs[kind] = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert costs["known"] == costs["unknown"] and costs["known"]

    ghosts = [f"ghost-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    gaps: list[float] = []
    took: list[float] = []
    for i in range(200):
        pair = [("known", known), ("unknown", ghosts[i % 3])]
        pair.sort(key=lambda _: random.random())
        seconds: dict[str, float] = {}
        for kind, name in pair:
            started = time.perf_counter()
            await auth.http.post("/authenticate/start", json={"username": name})
            seconds[kind] = time.perf_counter() - started
        gaps.append(seconds["known"] - seconds["unknown"])
        took.append(seconds["known"])
    gap_ms, median_ms = statistics.median(gaps) * 1000, statistics.median(took) * 1000
    print(f"/authenticate/start: median {median_ms:.3f} ms, known - unknown {gap_ms:+.3f} ms")
    assert abs(gap_ms) < max(1.0, 0.25 * median_ms), (gap_ms, median_ms)


# --- look-alike usernames ---------------------------------------------------------------------


async def test_look_alike_names_are_refused(auth: AuthClient) -> None:
    tag = uuid.uuid4().hex[:8]
    original = f"alice-m{tag}"
    look_alike = f"{CYRILLIC_A}lice-m{tag}"
    assert look_alike != original and skeleton(look_alike) == skeleton(original)
    # started before the original exists, completed after: refused at completion too
    late_id, late_options = await auth.start_registration(look_alike)
    await auth.register(original)
    # the same name, upper case (lowered), Cyrillic a, `rn` for `m`
    for name in (original, original.upper(), look_alike, f"alice-rn{tag}"):
        refused = await auth.http.post("/register/start", json={"username": name})
        assert refused.status_code == 409, (name, refused.text)
        assert refused.json() == {"error": "username already registered"}
    late = await auth.complete(
        "/register/complete", late_id, SoftAuthenticator(ORIGIN).create(late_options)
    )
    assert late.status_code == 409, late.text
    # a name in another script that looks like nobody's is welcome
    await auth.register(f"\u043c\u0430\u0440\u0438\u044f-{tag}")  # Cyrillic


async def test_maintenance_fills_and_refreshes_skeletons(auth: AuthClient) -> None:
    name = f"bob-{uuid.uuid4().hex[:8]}"
    await auth.register(name)
    sessions = auth.service.res.sessions
    async with sessions() as session, session.begin():
        await session.execute(
            update(User).where(User.username == name).values(username_skeleton=None)
        )
    async with sessions() as session, session.begin():
        assert await refresh_skeletons(session) >= 1
    async with sessions() as session:
        stored = await session.scalar(select(User.username_skeleton).where(User.username == name))
    assert stored == skeleton(name)
    refused = await auth.http.post(
        "/register/start", json={"username": f"b{chr(0x043E)}b" + name[3:]}
    )
    assert refused.status_code == 409  # Cyrillic o


# --- attestation and key checks ---------------------------------------------------------------


async def register_with(auth: AuthClient, **create_kwargs: object) -> tuple[int, str]:
    request_id, options = await auth.start_registration(f"user-{uuid.uuid4().hex[:12]}")
    credential = SoftAuthenticator(ORIGIN).create(options, **create_kwargs)  # type: ignore[arg-type]
    response = await auth.complete("/register/complete", request_id, credential)
    return response.status_code, response.json().get("error", "")


def ec_key(curve: ec.EllipticCurve, alg: int) -> bytes:
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    size = (curve.key_size + 7) // 8
    crv = {256: 1, 384: 2, 521: 3}[curve.key_size]
    return cbor2.dumps(
        {
            1: 2,
            3: alg,
            -1: crv,
            -2: numbers.x.to_bytes(size, "big"),
            -3: numbers.y.to_bytes(size, "big"),
        }
    )


def ed_key(alg: int) -> bytes:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return cbor2.dumps({1: 1, 3: alg, -1: 6, -2: raw})


def rsa_key(alg: int, bits: int = 2048) -> bytes:
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()
    return cbor2.dumps(
        {1: 3, 3: alg, -1: numbers.n.to_bytes(bits // 8, "big"), -2: numbers.e.to_bytes(3, "big")}
    )


async def test_none_attestation_with_a_statement_is_refused(auth: AuthClient) -> None:
    for statement in ({"x": 1}, {"ver": "2.0"}, {"sig": b"\x00" * 64, "alg": -7}):
        status, error = await register_with(auth, att_stmt=statement)
        assert status == 400 and "fmt none" in error, (statement, error)
    assert (await register_with(auth))[0] == 200  # the empty statement of `none` is fine


async def test_keys_must_match_their_declared_algorithm(auth: AuthClient) -> None:
    mismatched = {
        "ES256 declared, P-384 key": ec_key(ec.SECP384R1(), -7),
        "RS256 declared, EC key": ec_key(ec.SECP256R1(), -257),
        "EdDSA declared, EC key": ec_key(ec.SECP256R1(), -8),
        "ES256 declared, Ed25519 key": ed_key(-7),
        "ES256 declared, RSA key": rsa_key(-7),
        "RS256 with a 1024-bit key": rsa_key(-257, 1024),
        "ES256 with a point off the curve": cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32}
        ),
    }
    for case, key in mismatched.items():
        status, error = await register_with(auth, cose_key=key)
        assert status == 400, (case, status, error)
    for case, key in {
        "ES256": ec_key(ec.SECP256R1(), -7),
        "EdDSA": ed_key(-8),
        "RS256": rsa_key(-257),
    }.items():
        status, error = await register_with(auth, cose_key=key)
        assert status == 200, (case, error)
