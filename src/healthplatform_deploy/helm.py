"""Rendering the platform's own Helm chart offline (``helm template``) and merging its values.

Nothing here talks to a cluster: every rule reads the parsed documents."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from healthplatform_deploy.kube import KUBE_VERSION, PROFILES_DIR, RENDER_NAMESPACE, REPO_ROOT, Doc


class ToolMissingError(RuntimeError):
    """A binary the checks need (helm) is not installed."""


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def helm_binary(major: int = 4) -> str:
    """Path of Helm ``major``: $HP_HELM<major>, then scripts/ensure-k8s-tools.sh's cache,
    then ``helm`` on PATH (whatever major it is)."""
    explicit = os.environ.get(f"HP_HELM{major}")
    if explicit:
        return explicit
    cached = REPO_ROOT / ".cache" / "k8s-tools" / f"helm{major}" / "helm"
    if cached.is_file():
        return str(cached)
    found = shutil.which("helm")
    if found:
        return found
    raise ToolMissingError(
        f"Helm {major} not found: run scripts/ensure-k8s-tools.sh or set HP_HELM{major}"
    )


def render_text(
    chart: Path,
    values: Sequence[Path] = (),
    *,
    sets: Mapping[str, str] | None = None,
    helm: str | None = None,
    release: str = "hp",
    namespace: str = RENDER_NAMESPACE,
) -> str:
    """``helm template`` of a chart; raises RuntimeError with Helm's message on failure."""
    command = [
        helm or helm_binary(),
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ]
    for path in values:
        command += ["--values", str(path)]
    for key, value in (sets or {}).items():
        command += ["--set", f"{key}={value}"]
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        command, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed: {' '.join(command)}\n{result.stderr}")
    return result.stdout


def parse_documents(text: str) -> list[Doc]:
    """The non-empty YAML documents of a multi-document stream."""
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc]


def render(chart: Path, values: Sequence[Path] = (), **kwargs: Any) -> list[Doc]:
    return parse_documents(render_text(chart, values, **kwargs))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge recursively, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def merged_values(chart: Path, values: Sequence[Path] = ()) -> dict[str, Any]:
    """The chart's values.yaml with the given values files applied in order."""
    merged: dict[str, Any] = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    for path in values:
        merged = deep_merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def profile_path(profile: str, profiles_dir: Path = PROFILES_DIR) -> Path:
    path = profiles_dir / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir.glob("*.yaml"))
        raise FileNotFoundError(f"no profile {profile!r} in {profiles_dir} (known: {known})")
    return path
