"""Settings reference, environment parsing and the CLI surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from healthplatform.cli import app
from healthplatform.settings import Settings, reference_table

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_doc_is_generated_from_the_settings() -> None:
    doc = (ROOT / "docs/configuration.md").read_text()
    assert reference_table() in doc, "run `make docs` to regenerate docs/configuration.md"


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"HP_{name.upper()} has no description"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_OBJECT_STORE", "s3")
    monkeypatch.setenv("HP_JWT_ALGORITHMS", "ES256, RS256")
    monkeypatch.setenv("HP_UPLOAD_MAX_BYTES", "2048")
    settings = Settings()
    assert settings.object_store == "s3"
    assert settings.jwt_algorithms == ["ES256", "RS256"]
    assert settings.upload_max_bytes == 2048


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_weak_algorithms_are_refused(monkeypatch: pytest.MonkeyPatch, alg: str) -> None:
    monkeypatch.setenv("HP_JWT_ALGORITHMS", f"RS256,{alg}")
    with pytest.raises(ValidationError, match="unsupported JWT algorithms"):
        Settings()


def test_cli_help_lists_the_services() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "up", "settings", "sweep"):
        assert command in result.output
    serve = CliRunner().invoke(app, ["serve", "--help"])
    for service in ("api", "relay"):
        assert service in serve.output


def test_cli_reports_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_UPLOAD_MAX_BYTES", "not-a-number")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert "HP_UPLOAD_MAX_BYTES" in result.output or "upload_max_bytes" in result.output


def test_the_cli_starts_without_the_service_libraries() -> None:
    """`healthplatform --help` and every command import only what they use: the database,
    HTTP, S3, Avro and web libraries load when a command needs them (start-up 1.8 -> 0.7 s)."""
    heavy = ("aiohttp", "sqlalchemy", "fastapi", "aioboto3", "botocore", "asyncpg", "fastavro")
    probe = (
        f"import sys, healthplatform.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
