"""``healthplatform-deploy``: the deployment tools, apart from the product's ``healthplatform``.

healthplatform-deploy secrets list|generate|seal   # the chart's Secrets, sealed
healthplatform-deploy capacity --profile always-free  # does a profile fit its budget?
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthplatform_deploy.secrets_cli import secrets_cli

app = typer.Typer(
    help="Deployment tools of the health platform: sealed secrets, the capacity check.",
    no_args_is_help=True,
)
app.add_typer(secrets_cli, name="secrets")


@app.command()
def capacity(
    profile: Annotated[str, typer.Option(help="always-free, legacy-free or paid-small.")] = (
        "always-free"
    ),
    charts_dir: Annotated[Path, typer.Option(help="Folder holding the Helm charts.")] = Path(
        "deploy/charts"
    ),
) -> None:
    """Check that a deployment profile fits its budget (CPU, memory, storage).

    Renders the charts for the profile; exits 1 when it does not fit, 2 on error."""
    # The planner still lives at its old path until it is rebuilt from real renders
    # (issue 18 item 2); it reads this package through healthplatform.ops.manifests.
    from healthplatform.ops import capacity as planner

    raise typer.Exit(planner.main(profile, charts_dir))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
