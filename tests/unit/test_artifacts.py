"""External test artifacts: pinned, checksummed, found in the cache, a mirror or the network,
and a clear failure naming what is missing otherwise (scripts/fetch_test_artifacts.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scripts.fetch_test_artifacts import LOCK, REPO, Artifact, ArtifactError, Fetcher, load_lock


def pinned(path: str, data: bytes, source: str | None = None) -> Artifact:
    return Artifact(path, hashlib.sha256(data).hexdigest(), source, "test")


def test_the_lock_pins_every_artifact_with_a_checksum_and_a_source() -> None:
    artifacts = load_lock()
    paths = [a.path for a in artifacts]
    assert len(paths) == len(set(paths))
    prefixes = {p.split("/")[0] for p in paths}
    assert prefixes == {
        "upstream-charts",
        "provider-schemas",
        "samples",
        "contracts",
    }
    for a in artifacts:
        assert re.fullmatch(r"[0-9a-f]{64}", a.sha256), a.path
        assert a.source is None or a.source.startswith("https://"), a.path
        assert a.source or a.note, f"{a.path}: no source and no note on how it was made"
        if a.source and "raw.githubusercontent.com" in a.source:
            # raw files at a tag or a commit, never a moving branch
            ref = a.source.split("/")[5]
            assert re.fullmatch(r"[0-9a-f]{40}|v[0-9.]+", ref), a.source
    assert len([p for p in paths if p.startswith("samples/health-connect/")]) == 16


def test_a_mirror_fills_the_cache_then_the_cache_is_enough(tmp_path: Path) -> None:
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    (mirror / "charts").mkdir(parents=True)
    (mirror / "charts" / "a.tgz").write_bytes(b"chart a")
    wanted = [pinned("charts/a.tgz", b"chart a")]
    fetcher = Fetcher(cache=cache, mirror=mirror, network=False)
    fetcher.ensure(wanted)
    assert (cache / "charts" / "a.tgz").read_bytes() == b"chart a"
    assert fetcher.log == ["mirror   charts/a.tgz"]
    (mirror / "charts" / "a.tgz").unlink()
    again = Fetcher(cache=cache, mirror=mirror, network=False)
    again.ensure(wanted)
    assert again.log == []


def test_a_wrong_checksum_is_refused_and_named(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.json").write_bytes(b"tampered")
    fetcher = Fetcher(cache=tmp_path / "cache", mirror=mirror, network=False)
    with pytest.raises(ArtifactError) as error:
        fetcher.ensure([pinned("a.json", b"original")])
    assert "a.json: mirror copy has sha256" in str(error.value)
    assert not (tmp_path / "cache" / "a.json").exists()


def test_an_unreachable_source_fails_fast_and_names_every_missing_file(tmp_path: Path) -> None:
    # Port 9 (discard) on localhost is closed: the connection is refused at once.
    wanted = [
        pinned("one.tgz", b"1", "https://127.0.0.1:9/one.tgz"),
        pinned("two.tgz", b"2", "https://127.0.0.1:9/two.tgz"),
        pinned("three.json", b"3", None),
    ]
    fetcher = Fetcher(cache=tmp_path / "cache", mirror=None, network=True)
    with pytest.raises(ArtifactError) as error:
        fetcher.ensure(wanted)
    message = str(error.value)
    assert "3 test artifact(s) missing" in message
    assert "one.tgz: download failed" in message
    assert "two.tgz: network unreachable" in message  # not tried again
    assert "three.json: no download source" in message
    assert "HP_ARTIFACT_MIRROR" in message


def test_without_mirror_and_network_the_script_fails_naming_what_is_missing(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "HP_ARTIFACT_MIRROR": str(tmp_path / "empty-mirror"),
        "HP_ARTIFACT_NETWORK": "0",
        "HP_ARTIFACT_CACHE": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "scripts/fetch_test_artifacts.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    count = len(json.loads(LOCK.read_text())["artifacts"])
    assert f"{count} test artifact(s) missing" in result.stderr
    assert "upstream-charts/velero-12.1.0.tgz: not in the mirror" in result.stderr
    assert "samples/health-connect/StepsRecord_1758407139312.avro" in result.stderr
    assert "network forbidden" in result.stderr


def test_tests_read_artifacts_only_through_the_fetcher() -> None:
    """No test reaches into ../shared (or an env var pointing at it) by itself."""
    allowed = {Path("tests/support/artifacts.py"), Path("tests/unit/test_artifacts.py")}
    offenders = []
    for path in (REPO / "tests").rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel in allowed:
            continue
        text = path.read_text()
        if re.search(r"[\"'/]shared[\"'/]|HP_CRD_SCHEMAS|HP_SAMPLES_DIR", text):
            offenders.append(str(rel))
    assert offenders == []
