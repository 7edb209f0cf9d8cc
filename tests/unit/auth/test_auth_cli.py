"""The auth command group on the embedded backends (SQLite in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from healthplatform.auth.cli import auth_cli, auth_factory
from healthplatform.cli import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HP_AUTH_DATA_DIR", str(tmp_path))
    return tmp_path


def test_migrate_rotate_maintain(env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["migrate", "--database", "auth"])
    assert result.exit_code == 0, result.output
    assert (env / "auth.db").exists()

    first = runner.invoke(auth_cli, ["rotate-keys"])  # bootstrap: an active key
    assert first.exit_code == 0 and "activated=['" in first.output
    staged = runner.invoke(auth_cli, ["rotate-keys", "--force"])
    assert (
        staged.exit_code == 0 and "created=['" in staged.output and "activated=[]" in staged.output
    )
    maintained = runner.invoke(auth_cli, ["maintain"])
    assert maintained.exit_code == 0 and "sessions deleted: 0" in maintained.output


def test_settings_and_configuration_errors(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    table = runner.invoke(auth_cli, ["settings"])
    assert table.exit_code == 0 and "HP_AUTH_RP_ID" in table.output
    monkeypatch.setenv("HP_AUTH_ENVIRONMENT", "production")
    refused = runner.invoke(auth_cli, ["rotate-keys"])
    assert refused.exit_code == 2 and "KEY_ENCRYPTION_KEY" in refused.output


def test_factory_builds_the_app(env: Path) -> None:
    app = auth_factory()
    paths = set(app.openapi()["paths"])
    assert {"/register/start", "/authenticate/complete", "/.well-known/jwks.json"} <= paths
