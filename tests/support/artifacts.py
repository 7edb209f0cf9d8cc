"""The only way tests read external artifacts (charts, schemas, samples): through the cache
that scripts/fetch_test_artifacts.py fills from a mirror or the network, sha256-checked.

A missing artifact fails the test that needs it, naming what is missing and where it was
looked for (never a skip)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from scripts.fetch_test_artifacts import ArtifactError, fetcher_from_env, load_lock, select

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
