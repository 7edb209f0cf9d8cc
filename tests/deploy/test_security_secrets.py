"""Secrets: generation (`healthplatform-deploy secrets generate`), Sealed Secrets sealing checked by
decrypting our own output, the chart's SealedSecret template, and a scan of the rendered
chart and of the repository tree for anything that looks like a credential."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from healthplatform.auth.settings import decode_key_encryption_key
from healthplatform_deploy import context as render_context
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from healthplatform_deploy import secrets as s
from healthplatform_deploy.secrets_cli import secrets_cli
from tests.deploy.test_charts import (
    ALL_FEATURES,
    CHART,
    PROFILES,
    REPO,
    crd_problems,
    helm,
    render,
    values_files,
)

pytestmark = pytest.mark.deploy

NS = "healthplatform"


@pytest.fixture(scope="module")
def controller_key() -> rsa.RSAPrivateKey:
    """A key like the controller's (4096-bit RSA)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


def certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, days: int = 3650) -> bytes:
    """A self-signed certificate as `kubeseal --fetch-cert` prints it."""
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2 if days < 0 else 0))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


def test_expected_secrets_are_the_values_declaration() -> None:
    values = helm_chart.merged_values(CHART)
    expected = {x.name: {k.key for k in x.keys} for x in s.expected_secrets(values)}
    assert expected == render_context.external_secrets(values)
    assert set(expected) == {
        "healthplatform-s3",
        "healthplatform-rabbitmq",
        "healthplatform-valkey-health",
        "healthplatform-valkey-auth",
        "healthplatform-auth-keys",
    }


def test_a_new_secret_field_without_a_generator_is_refused() -> None:
    values = {"secrets": {"x": {"name": "x", "tokenKey": "token"}}}
    with pytest.raises(ValueError, match="no generator for \\['tokenKey'\\]"):
        s.expected_secrets(values)


def test_generated_values_are_strong_and_fit_where_they_go() -> None:
    values = helm_chart.merged_values(CHART)
    first = {d["metadata"]["name"]: d["stringData"] for d in s.generate(values, NS)}
    second = {d["metadata"]["name"]: d["stringData"] for d in s.generate(values, NS)}
    for name, data in first.items():
        for key, value in data.items():
            if key == "username":
                continue
            assert value != second[name][key], "fresh randomness on every run"
            assert quote(value, safe="") == value or key == "key-encryption-key", (name, key)
    for which in ("healthplatform-valkey-health", "healthplatform-valkey-auth"):
        assert re.fullmatch(r"[0-9a-f]{64}", first[which]["password"])
    assert re.fullmatch(r"[0-9a-f]{64}", first["healthplatform-rabbitmq"]["password"])
    assert (
        len(decode_key_encryption_key(first["healthplatform-auth-keys"]["key-encryption-key"]))
        == 32
    )
    assert re.fullmatch(r"[A-Z0-9]{20}", first["healthplatform-s3"]["AWS_ACCESS_KEY_ID"])
    assert re.fullmatch(r"[0-9a-f]{40}", first["healthplatform-s3"]["AWS_SECRET_ACCESS_KEY"])


def test_overrides_replace_generated_values_and_must_name_expected_keys() -> None:
    values = helm_chart.merged_values(CHART)
    docs = s.generate(values, NS, {("healthplatform-s3", "AWS_ACCESS_KEY_ID"): "from-terraform"})
    s3 = next(d for d in docs if d["metadata"]["name"] == "healthplatform-s3")
    assert s3["stringData"]["AWS_ACCESS_KEY_ID"] == "from-terraform"
    with pytest.raises(ValueError, match="not an expected Secret key"):
        s.generate(values, NS, {("healthplatform-s3", "nope"): "x"})


# --------------------------------------------------------------------------------------
# Sealing: the Sealed Secrets format, checked by decrypting our own output
# --------------------------------------------------------------------------------------


def controller_decrypt(key: rsa.RSAPrivateKey, sealed: str, namespace: str, name: str) -> bytes:
    """The controller's side, written from the documented layout (not from ops/secrets.py):
    2-byte big-endian length of the RSA ciphertext, the RSA-OAEP(SHA-256) ciphertext of the
    session key with label `namespace/name`, then AES-256-GCM with a zero nonce."""
    blob = base64.b64decode(sealed, validate=True)
    size = int.from_bytes(blob[:2], "big")
    assert size == key.key_size // 8
    oaep = padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=f"{namespace}/{name}".encode(),
    )
    session = key.decrypt(blob[2 : 2 + size], oaep)
    assert len(session) == 32
    return AESGCM(session).decrypt(b"\0" * 12, blob[2 + size :], None)


def test_seal_round_trip(controller_key: rsa.RSAPrivateKey) -> None:
    public = s.load_public_key(certificate(controller_key))
    plain = s.generate(helm_chart.merged_values(CHART), NS)
    sealed = s.seal(public, plain)
    assert not crd_problems(sealed)
    for secret, sealed_secret in zip(plain, sealed, strict=True):
        name = secret["metadata"]["name"]
        assert sealed_secret["metadata"] == {"name": name, "namespace": NS}
        assert sealed_secret["spec"]["template"]["metadata"]["name"] == name
        for key, value in secret["stringData"].items():
            ciphertext = sealed_secret["spec"]["encryptedData"][key]
            assert value not in ciphertext
            assert controller_decrypt(controller_key, ciphertext, NS, name) == value.encode()
            assert s.unseal_value(controller_key, NS, name, ciphertext) == value.encode()
            # AES-GCM body: the value plus a 16-byte tag after the 2 + 512 byte header
            assert len(base64.b64decode(ciphertext)) == 2 + 512 + len(value.encode()) + 16


def test_strict_scope_binds_namespace_and_name(controller_key: rsa.RSAPrivateKey) -> None:
    public = controller_key.public_key()
    ciphertext = s.seal_value(public, NS, "healthplatform-rabbitmq", b"secret")
    for namespace, name in (
        (NS, "healthplatform-valkey-auth"),
        ("other", "healthplatform-rabbitmq"),
    ):
        with pytest.raises(ValueError):
            s.unseal_value(controller_key, namespace, name, ciphertext)
    two = {s.seal_value(public, NS, "x", b"same") for _ in range(2)}
    assert len(two) == 2, "a fresh session key every time"


def test_data_and_string_data_are_sealed_and_namespace_is_required(
    controller_key: rsa.RSAPrivateKey,
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "n"},
        "data": {"a": base64.b64encode(b"\x00\xff").decode()},
        "stringData": {"b": "text"},
    }
    with pytest.raises(ValueError, match="no namespace"):
        s.seal(controller_key.public_key(), [secret])
    (sealed,) = s.seal(controller_key.public_key(), [secret], "ns")
    data = sealed["spec"]["encryptedData"]
    assert s.unseal_value(controller_key, "ns", "n", data["a"]) == b"\x00\xff"
    assert s.unseal_value(controller_key, "ns", "n", data["b"]) == b"text"
    with pytest.raises(ValueError, match="not a Secret"):
        s.seal(controller_key.public_key(), [{"kind": "ConfigMap", "metadata": {"name": "c"}}])


def test_certificates_expired_or_not_rsa_are_refused(controller_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="expired"):
        s.load_public_key(certificate(controller_key, days=-1))
    with pytest.raises(ValueError, match="RSA"):
        s.load_public_key(certificate(ec.generate_private_key(ec.SECP256R1())))
    pem = controller_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert s.load_public_key(pem).public_numbers() == controller_key.public_key().public_numbers()


# --------------------------------------------------------------------------------------
# The chart's SealedSecrets and the CLI
# --------------------------------------------------------------------------------------


def sealed_values_file(tmp_path: Path, key: rsa.RSAPrivateKey, namespace: str) -> Path:
    sealed = s.seal(key.public_key(), s.generate(helm_chart.merged_values(CHART), namespace))
    path = tmp_path / "sealed.yaml"
    path.write_text(yaml.safe_dump(s.sealed_values(sealed)))
    return path


def test_the_chart_renders_sealed_secrets_in_the_data_layer(
    tmp_path: Path, controller_key: rsa.RSAPrivateKey
) -> None:
    path = sealed_values_file(tmp_path, controller_key, kube.RENDER_NAMESPACE)
    docs = helm_chart.render(
        CHART, [helm_chart.profile_path("always-free"), path], helm=helm("helm4")
    )
    sealed = kube.of_kind(docs, "SealedSecret")
    assert {kube.name_of(d) for d in sealed} == set(
        render_context.external_secrets(helm_chart.merged_values(CHART))
    )
    assert not crd_problems(sealed)
    assert all(kube.labels_of(d)["healthplatform.io/layer"] == "data" for d in sealed)
    values = yaml.safe_load(path.read_text())["security"]["sealedSecrets"]["encryptedData"]
    for doc in sealed:
        name = kube.name_of(doc)
        assert doc["spec"]["encryptedData"] == values[name]
        for ciphertext in doc["spec"]["encryptedData"].values():
            s.unseal_value(controller_key, kube.RENDER_NAMESPACE, name, ciphertext)
    apps = helm_chart.render(
        CHART,
        [path],
        helm=helm("helm4"),
        sets={"layers.data": "false", "layers.gateway": "false"},
    )
    assert not kube.of_kind(apps, "SealedSecret")


def test_the_chart_refuses_incomplete_or_unknown_sealed_secrets(tmp_path: Path) -> None:
    def render_with(data: dict[str, dict[str, str]]) -> None:
        path = tmp_path / "v.yaml"
        values = {"security": {"sealedSecrets": {"enabled": True, "encryptedData": data}}}
        path.write_text(yaml.safe_dump(values))
        helm_chart.render(CHART, [path], helm=helm("helm4"))

    with pytest.raises(RuntimeError, match='has no key "password"'):
        render_with({"healthplatform-rabbitmq": {"username": "QUJD"}})
    with pytest.raises(RuntimeError, match="not a Secret declared"):
        render_with({"healthplatform-typo": {"password": "QUJD"}})
    with pytest.raises(RuntimeError, match="encryptedData"):
        render_with({"healthplatform-rabbitmq": {"username": "not base64!", "password": "QUJD"}})


def test_cli_generate_and_seal_pipeline(tmp_path: Path, controller_key: rsa.RSAPrivateKey) -> None:
    runner = CliRunner()
    generated = runner.invoke(secrets_cli, ["generate", "-n", NS])
    assert generated.exit_code == 0, generated.output
    plain = [d for d in yaml.safe_load_all(generated.stdout) if d]
    assert {d["kind"] for d in plain} == {"Secret"} and len(plain) == 5
    cert = tmp_path / "cert.pem"
    cert.write_bytes(certificate(controller_key))
    sealed = runner.invoke(
        secrets_cli, ["seal", "--cert", str(cert), "--format", "values"], input=generated.stdout
    )
    assert sealed.exit_code == 0, sealed.output
    data = yaml.safe_load(sealed.stdout)["security"]["sealedSecrets"]["encryptedData"]
    for secret in plain:
        name = secret["metadata"]["name"]
        for key, value in secret["stringData"].items():
            assert s.unseal_value(controller_key, NS, name, data[name][key]) == value.encode()
        assert not any(v in sealed.stdout for v in secret["stringData"].values() if len(v) > 16)
    listing = runner.invoke(secrets_cli, ["list"])
    assert "healthplatform-auth-keys" in listing.stdout and "base64" in listing.stdout


def test_cli_writes_plaintext_only_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    out = tmp_path / "plain"
    result = runner.invoke(secrets_cli, ["generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert len(files) == 5 and all(f.stat().st_mode & 0o077 == 0 for f in files)
    tracked = REPO / "deploy" / "plain-secrets-test"
    result = runner.invoke(secrets_cli, ["generate", "--out", str(tracked)])
    assert result.exit_code == 2 and not tracked.exists()
    monkeypatch.setenv("HP_TEST_S3_ID", "AKIDFROMTERRAFORM000")
    result = runner.invoke(
        secrets_cli,
        ["generate", "--from-env", "healthplatform-s3/AWS_ACCESS_KEY_ID=HP_TEST_S3_ID"],
    )
    assert "AKIDFROMTERRAFORM000" in result.stdout
    result = runner.invoke(secrets_cli, ["generate", "--from-env", "broken"])
    assert result.exit_code == 2


# --------------------------------------------------------------------------------------
# No plaintext secret in the render or the repository
# --------------------------------------------------------------------------------------

SECRET_WORD = r"(?:password|passwd|secret(?:[_-]?(?:access[_-]?)?key)?|token|api[_-]?key)"
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "JWT": re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"),
    "quoted secret": re.compile(
        rf"(?i){SECRET_WORD}s?[\"']?[ \t]*[:=][ \t]*[\"']([^\"'\s$]{{8,}})[\"']"
    ),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"$]{3,})@"),
}
CONFIG_PATTERN = re.compile(
    rf"(?im)^[^#\n]*\b{SECRET_WORD}s?\b[\"']?[ \t]*[:=][ \t]*[\"']?([^\"'\s$#{{}}\[\]]{{8,}})"
)
CONFIG_FILE = re.compile(r"\.(ya?ml|env|tfvars|ini|json|toml|conf|properties)$")
# (path, matched value): reviewed, not secrets.
ALLOWED = {
    (
        "tests/unit/test_sigv4.py",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    ): "AWS's published example key",
    ("docs/auth.md", "..."): "placeholder",
    ("docs/configuration.md", "pass"): "placeholder",
    ("src/healthplatform/settings.py", "guest"): "RabbitMQ's local-only default account",
    ("tests/support/services.py", "guest"): "the test broker's local-only account",
    ("tests/unit/test_backup.py", "s3cr%40t"): "fixture of URL redaction",
    ("src/healthplatform/auth/compat.py", "refresh-token"): "a feature name a client asks for",
}


def findings(path: str, text: str) -> list[tuple[str, str, str]]:
    found = []
    for kind, pattern in PATTERNS.items():
        found += [
            (kind, path, match.group(match.lastindex or 0)) for match in pattern.finditer(text)
        ]
    if CONFIG_FILE.search(path):
        found += [
            ("secret in configuration", path, x.group(1)) for x in CONFIG_PATTERN.finditer(text)
        ]
    return [f for f in found if (f[1], f[2]) not in ALLOWED]


def repository_files() -> list[str]:
    """Tracked files and files about to be (untracked, not ignored)."""
    result = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [f for f in result.stdout.split("\0") if f and (REPO / f).is_file()]


def test_the_repository_holds_no_plaintext_secret() -> None:
    files = repository_files()
    assert len(files) > 100
    problems = []
    for path in files:
        try:
            text = (REPO / path).read_text()
        except UnicodeDecodeError:
            continue
        problems += findings(path, text)
    assert not problems, "\n".join(f"{k}: {p}: {v[:12]}..." for k, p, v in problems)


def test_the_scanner_finds_what_it_looks_for() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # Built at run time, so that this file itself holds none of them.
    parts = (b'{"alg":"HS256"}', b'{"sub":"mallory"}', b"x" * 32)
    jwt_like = ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)
    text = "\n".join(
        [
            pem,
            "aws_access_key_id = " + "AKIA" + "ABCDEFGHIJKLMNOP",
            f"token: {jwt_like}",
            "api_key = " + '"sk-live-' + '0123456789"',
            "url: postgresql://health:" + "hunter22@db:5432/health",
        ]
    )
    kinds = {kind for kind, _, _ in findings("leak.py", text)}
    assert kinds == set(PATTERNS)
    assert {k for k, _, _ in findings("values.yaml", "  password: 9f8e7d6c5b4a3928")} == {
        "secret in configuration"
    }
    assert not findings("values.yaml", "  passwordKey: password\n  password: $(VALKEY_PASSWORD)")


SECRET_NAME = re.compile(r"(?i)password|passwd|secret|token|private|credential|api_?key")


def rendered_literals(docs: list[kube.Doc]) -> list[str]:
    """Literal values the render gives to secret-looking names: env values, ConfigMap
    keys, Secret objects (none may be rendered at all)."""
    problems = [f"{kube.ref(d)}: a Secret is rendered" for d in kube.of_kind(docs, "Secret")]
    for pt in kube.pod_templates(docs):
        for container in pt.containers():
            for item in container.get("env") or []:
                value = str(item.get("value", ""))
                if SECRET_NAME.search(item["name"]) and value and "$(" not in value:
                    problems.append(f"{pt.ref} {container['name']}: {item['name']} is a literal")
    for cm in kube.of_kind(docs, "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            if SECRET_NAME.search(key) and str(value).strip():
                problems.append(f"{kube.ref(cm)}: {key} holds a value")
            for url in kube.URL.finditer(str(value)):
                if re.search(r"://[^/@\s]*:[^/@\s]+@", url.group(0)):
                    problems.append(f"{kube.ref(cm)}: {key} has a URL with a password")
    return problems


@pytest.mark.parametrize("profile", PROFILES)
def test_the_render_holds_no_plaintext_secret(profile: str) -> None:
    docs = render(profile) + render(profile, **ALL_FEATURES)
    text = helm_chart.render_text(CHART, values_files(profile), helm=helm("helm4"))
    assert not findings(f"render of {profile}", text)
    assert not rendered_literals(docs)
    broken = [
        {"kind": "Secret", "metadata": {"name": "x"}},
        {
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"HP_S3_SECRET_ACCESS_KEY": "abc", "url": "redis://:pw@valkey:6379/0"},
        },
    ]
    assert len(rendered_literals(broken)) == 3
