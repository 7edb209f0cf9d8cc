"""The only way tests read external artifacts (charts, schemas, samples): through the cache
that scripts/fetch_test_artifacts.py fills from a mirror or the network, sha256-checked.

A missing artifact fails the test that needs it, naming what is missing and where it was
looked for (never a skip)."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path

import pytest
from scripts import derive_crd_schemas
from scripts.fetch_test_artifacts import REPO, ArtifactError, fetcher_from_env, load_lock, select

SAMPLES = "samples/health-connect"


@functools.cache
def _ensure(prefix: str) -> Path:
    fetcher = fetcher_from_env()
    try:
        fetcher.ensure(select(load_lock(), [prefix]))
    except ArtifactError as exc:
        problem = str(exc)
    else:
        return fetcher.cache / prefix
    pytest.fail(problem, pytrace=False)


def artifact(path: str) -> Path:
    """One pinned file, e.g. ``upstream-charts/velero-12.1.0.tgz``."""
    return _ensure(path)


def samples_dir() -> tuple[Path, str | None]:
    """The sample folder and, when it could not be filled, why (for conftest, which runs
    before collection: a failure there would hide every other test's result)."""
    fetcher = fetcher_from_env()
    try:
        fetcher.ensure(select(load_lock(), [SAMPLES]))
    except ArtifactError as exc:
        return fetcher.cache / SAMPLES, str(exc)
    return fetcher.cache / SAMPLES, None


def artifact_dir(prefix: str) -> Path:
    """Every pinned file under a folder, e.g. ``crd-schemas`` or ``samples/health-connect``."""
    return _ensure(prefix.rstrip("/") + "/").resolve()


def helm_binary() -> str:
    """Helm 4 from scripts/ensure-k8s-tools.sh (installed on first use)."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-k8s-tools.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    if result.returncode != 0 or not Path(found.get("HELM4", "")).is_file():
        pytest.fail(f"scripts/ensure-k8s-tools.sh found no helm: {result.stderr[-2000:]}")
    return found["HELM4"]


@functools.cache
def crd_schema_dir() -> Path:
    """JSON Schemas derived from the CRDs inside the pinned charts (scripts/derive_crd_schemas.py),
    once per set of inputs: the folder's name is a digest of the charts' sha256 and the
    converter's source."""
    sources = [a for a in load_lock() if a.path in derive_crd_schemas.SOURCES]
    problem = None
    try:
        fetcher_from_env().ensure(sources)  # one message naming every missing chart
    except ArtifactError as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)
    digest = hashlib.sha256(Path(derive_crd_schemas.__file__).read_bytes())
    for source in sorted(sources, key=lambda a: a.path):
        digest.update(source.sha256.encode())
    cache = fetcher_from_env().cache
    out = cache / "derived" / f"crd-schemas-{digest.hexdigest()[:16]}"
    if not (out / ".complete").is_file():
        derive_crd_schemas.derive(cache, out, helm_binary())
        (out / ".complete").write_text("")
    return out
