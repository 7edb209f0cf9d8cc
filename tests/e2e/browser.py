"""Running one of this folder's Node scripts (playwright-core driving Debian Chromium) and
reading the JSON result it prints last. Missing Node, Chromium or playwright-core fails
the test (scripts/ensure-browser.sh installs them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACT_ROOT = HERE.parents[1] / "test-artifacts"  # screenshots, one folder per test file


def require_browser() -> str:
    """Node, Debian Chromium and the pinned playwright-core: their absence is a failure."""
    node = shutil.which("node")
    problems = []
    if node is None:
        problems.append("node not found")
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} not found")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        problems.append("tests/e2e/node_modules missing (npm ci)")
    if problems:
        pytest.fail("; ".join(problems) + ": run scripts/ensure-browser.sh")
    assert node is not None
    return node


def run_script(
    script: str, options: dict[str, str | Path], *, timeout: float, require_ok: bool = True
) -> dict[str, Any]:
    """``node <script> --<option> <value> ... --chromium /usr/bin/chromium``; the last JSON
    line it prints. With ``require_ok`` the script must exit 0 and report ``"ok": true``."""
    arguments = [arg for name, value in options.items() for arg in (f"--{name}", str(value))]
    completed = subprocess.run(
        [require_browser(), str(HERE / script), *arguments, "--chromium", str(CHROMIUM)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from {script}\nstdout:{completed.stdout}\nstderr:{completed.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    if require_ok:
        assert completed.returncode == 0 and result["ok"], json.dumps(result, indent=2)[:20_000]
    return result
