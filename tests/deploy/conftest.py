"""The deployment tests render the pinned upstream charts from the test-artifact cache."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from healthplatform_deploy.render import CHARTS_ENV
from tests.support.artifacts import artifact_dir


@pytest.fixture(scope="session", autouse=True)
def upstream_charts() -> Iterator[None]:
    """Point the renderer at the cached, checksummed charts (unless the caller chose)."""
    if os.environ.get(CHARTS_ENV):
        yield
        return
    os.environ[CHARTS_ENV] = str(artifact_dir("upstream-charts"))
    try:
        yield
    finally:
        del os.environ[CHARTS_ENV]
