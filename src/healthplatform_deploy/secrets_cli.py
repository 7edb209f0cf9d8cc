"""``healthplatform-deploy secrets``: credentials for the chart's Secrets, sealed for the cluster.

    healthplatform-deploy secrets list
    healthplatform-deploy secrets generate -n healthplatform \
      | healthplatform-deploy secrets seal --cert sealed-secrets.pem --format values \
      > deploy/argocd/envs/always-free/sealed-secrets.yaml

``generate`` prints plain Secret manifests (or writes them into a git-ignored folder);
``seal`` turns Secret manifests into SealedSecrets, or into a values file for the chart's
``security.sealedSecrets``. Only the sealed output may be committed (docs/security.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from healthplatform_deploy import secrets
from healthplatform_deploy.kube import REPO_ROOT

console = Console(stderr=True)
secrets_cli = typer.Typer(
    help="Generate the platform's Secrets and seal them for the Sealed Secrets controller.",
    no_args_is_help=True,
)

ValuesOpt = Annotated[
    list[Path] | None,
    typer.Option("--values", "-f", help="Chart values files (profile, Terraform's, yours)."),
]
NamespaceOpt = Annotated[
    str, typer.Option("--namespace", "-n", help="Namespace the Secrets live in.")
]


class Format(StrEnum):
    manifests = "manifests"
    values = "values"


def _values(files: list[Path] | None) -> dict[str, object]:
    return secrets.chart_values(files or [])


def _tracked_path(path: Path) -> bool:
    """True when ``path`` is inside the repository and not ignored by git."""
    resolved = path.resolve()
    if REPO_ROOT not in resolved.parents:
        return False
    result = subprocess.run(  # noqa: S603 (fixed argv)
        ["git", "-C", str(REPO_ROOT), "check-ignore", "-q", str(resolved)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return result.returncode != 0


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@secrets_cli.command("list")
def list_secrets(values: ValuesOpt = None) -> None:
    """The Secrets the chart expects (values secrets.*) and how each key is generated."""
    for secret in secrets.expected_secrets(_values(values)):
        print(secret.name)
        for key in secret.keys:
            print(f"  {key.key}: {secrets.GENERATORS[key.field].description}")


@secrets_cli.command()
def generate(
    namespace: NamespaceOpt = "healthplatform",
    values: ValuesOpt = None,
    from_env: Annotated[
        list[str] | None,
        typer.Option(
            "--from-env",
            help="SECRET/KEY=ENV_VAR: take that key's value from an environment variable "
            "(e.g. the S3 key pair from Terraform) instead of generating it.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for one <name>.yaml per Secret (mode 0600); must be git-ignored."
        ),
    ] = None,
) -> None:
    """Strong random credentials for every Secret the chart expects, as plain Secret
    manifests on stdout (pipe them into `seal`) or into a git-ignored folder."""
    overrides: dict[tuple[str, str], str] = {}
    for item in from_env or []:
        target, _, variable = item.partition("=")
        name, _, key = target.partition("/")
        if not (name and key and variable):
            raise typer.BadParameter(f"{item!r}: expected SECRET/KEY=ENV_VAR")
        if not os.environ.get(variable):
            raise typer.BadParameter(f"{item!r}: ${variable} is empty")
        overrides[(name, key)] = os.environ[variable]
    try:
        manifests = secrets.generate(_values(values), namespace, overrides)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if out is None:
        sys.stdout.write(secrets.dump(manifests))
        return
    if _tracked_path(out):
        console.print(f"[red]{out} is not git-ignored: plaintext Secrets never go into git[/red]")
        raise typer.Exit(2)
    for manifest in manifests:
        _write_private(out / f"{manifest['metadata']['name']}.yaml", secrets.dump([manifest]))
    console.print(f"wrote {len(manifests)} Secrets into {out} (seal them, then delete the folder)")


@secrets_cli.command()
def seal(
    cert: Annotated[
        Path,
        typer.Option(help="The controller's certificate (`kubeseal --fetch-cert`) or public key."),
    ],
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace of Secrets that name none."),
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--in", help="Secret manifests (default: stdin).")
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option("--format", help="SealedSecret manifests, or a values file for the chart."),
    ] = Format.manifests,
) -> None:
    """Seal Secret manifests (strict scope: each ciphertext only opens as that Secret in
    that namespace) for the cluster whose certificate is given; prints the result."""
    text = input_file.read_text() if input_file else sys.stdin.read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    try:
        key = secrets.load_public_key(cert.read_bytes())
        sealed = secrets.seal(key, docs, namespace)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if output_format is Format.values:
        sys.stdout.write(yaml.safe_dump(secrets.sealed_values(sealed), sort_keys=False))
    else:
        sys.stdout.write(secrets.dump(sealed))
