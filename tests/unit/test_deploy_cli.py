"""The deployment tools have their own command, `healthplatform-deploy`; the product's
`healthplatform` command no longer carries them."""

from __future__ import annotations

from typer.main import get_command

from healthplatform.cli import app as product_app
from healthplatform_deploy.backup_schedules import cli_problem
from healthplatform_deploy.cli import app as deploy_app


def test_deploy_command_has_secrets_and_capacity() -> None:
    root = get_command(deploy_app)
    assert set(root.commands) == {"secrets", "capacity"}  # type: ignore[attr-defined]
    assert cli_problem(["secrets", "seal", "--cert", "c.pem", "--format", "values"], root) is None
    assert cli_problem(["capacity", "--profile", "always-free"], root) is None
    assert "has no command 'generate'" in str(cli_problem(["generate"], root))


def test_product_command_lost_them() -> None:
    commands = set(get_command(product_app).commands)  # type: ignore[attr-defined]
    assert {"serve", "migrate", "backup"} <= commands
    assert not commands & {"secrets", "capacity"}
