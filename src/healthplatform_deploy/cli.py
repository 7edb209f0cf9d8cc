"""``healthplatform-deploy``: the deployment tools, apart from the product's ``healthplatform``.

healthplatform-deploy secrets list|generate|seal   # the chart's Secrets, sealed
healthplatform-deploy capacity --profile always-free  # does a profile fit its budget?
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from healthplatform_deploy import capacity_report, render
from healthplatform_deploy.capacity_report import CHART
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
    chart: Annotated[Path, typer.Option(help="The platform chart folder.")] = CHART,
    upstream_charts: Annotated[
        Path | None,
        typer.Option(help=f"Folder with the pinned upstream charts ({render.CHARTS_ENV})."),
    ] = None,
) -> None:
    """Check that the whole install fits its budget, counted from the rendered charts
    (platform chart, upstream charts, bootstrap, documented kube-system estimates).

    Exits 1 when it does not fit, 2 when it cannot render (the message says how to get the
    upstream charts)."""
    if upstream_charts is not None:
        os.environ[render.CHARTS_ENV] = str(upstream_charts)
    raise typer.Exit(capacity_report.main(profile, chart))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
