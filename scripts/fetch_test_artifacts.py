"""Fetch every external test artifact at its pinned version, checked by sha256.

    python scripts/fetch_test_artifacts.py              # everything, into the cache
    python scripts/fetch_test_artifacts.py --list       # what is pinned, and where from
    python scripts/fetch_test_artifacts.py samples/     # only paths starting with a prefix
    HP_ARTIFACT_MIRROR=/path/to/shared python scripts/fetch_test_artifacts.py

The artifacts (upstream Helm charts, the OCI provider schema, CRD JSON schemas, the wire
contracts, real Health Connect sample files) are listed in tests/artifacts.lock.json with
their sha256 and their canonical source. For each one, in this order:

1. the cache (``HP_ARTIFACT_CACHE``, default ``.cache/test-artifacts`` in the repository),
   used when its sha256 matches;
2. a mirror directory laid out like the cache (``HP_ARTIFACT_MIRROR``, default ``../shared``
   next to the repository when it exists): copied into the cache when its sha256 matches;
3. the canonical source (a Helm repository or release download, a raw file of an upstream
   repository at a pinned commit), downloaded when the network allows (``HP_ARTIFACT_NETWORK=0``
   forbids it). Artifacts with no downloadable source (``"source": null``, e.g. the provider
   schema built from the provider's source) come from a mirror only; the lock says how they
   were made.

Whatever is still missing or has the wrong checksum is named in one error (exit status 1):
the tests read artifacts only through tests/support/artifacts.py, which fails (never skips)
with that message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "tests" / "artifacts.lock.json"
DEFAULT_CACHE = REPO / ".cache" / "test-artifacts"
DEFAULT_MIRROR = REPO.parent / "shared"
TIMEOUT_SECONDS = 60


class ArtifactError(RuntimeError):
    """Some artifacts could not be found anywhere (the message names them and why)."""


@dataclass(frozen=True)
class Artifact:
    path: str
    sha256: str
    source: str | None
    note: str = ""


@dataclass
class Fetcher:
    cache: Path
    mirror: Path | None
    network: bool
    log: list[str] = field(default_factory=list)
    offline_reason: str | None = None

    def ensure(self, artifacts: Iterable[Artifact]) -> None:
        problems = [p for a in artifacts if (p := self._ensure_one(a))]
        if problems:
            raise ArtifactError(self._message(problems))

    def _message(self, problems: Sequence[str]) -> str:
        mirror = (
            str(self.mirror) if self.mirror else "none (HP_ARTIFACT_MIRROR unset, no ../shared)"
        )
        network = "allowed" if self.network else "forbidden (HP_ARTIFACT_NETWORK=0)"
        if self.offline_reason:
            network += f", unreachable: {self.offline_reason}"
        lines = [
            f"{len(problems)} test artifact(s) missing (lock: {LOCK.relative_to(REPO)}; "
            f"cache: {self.cache}; mirror: {mirror}; network: {network}):",
            *(f"  - {p}" for p in problems),
            "Point HP_ARTIFACT_MIRROR at a copy of the shared folder (same layout), or run "
            "`python scripts/fetch_test_artifacts.py` with internet access.",
        ]
        return "\n".join(lines)

    def _ensure_one(self, artifact: Artifact) -> str | None:
        target = self.cache / artifact.path
        if target.is_file() and sha256(target) == artifact.sha256:
            return None
        reasons: list[str] = []
        if self.mirror is not None:
            candidate = self.mirror / artifact.path
            if not candidate.is_file():
                reasons.append(f"not in the mirror {self.mirror}")
            elif (got := sha256(candidate)) != artifact.sha256:
                reasons.append(
                    f"mirror copy has sha256 {got[:12]}..., lock {artifact.sha256[:12]}..."
                )
            else:
                self._install(candidate, target)
                self.log.append(f"mirror   {artifact.path}")
                return None
        if artifact.source is None:
            reasons.append(f"no download source ({artifact.note or 'mirror only'})")
        elif not self.network:
            reasons.append(f"network forbidden (source {artifact.source})")
        elif self.offline_reason:
            reasons.append(f"network unreachable (source {artifact.source})")
        else:
            problem = self._download(artifact, target)
            if problem is None:
                self.log.append(f"download {artifact.path}")
                return None
            reasons.append(problem)
        return f"{artifact.path}: " + "; ".join(reasons)

    def _install(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            shutil.copyfileobj(source.open("rb"), tmp)
        Path(tmp.name).replace(target)

    def _download(self, artifact: Artifact, target: Path) -> str | None:
        assert artifact.source is not None
        if not artifact.source.startswith("https://"):
            return f"unsupported source {artifact.source}"
        try:
            with urllib.request.urlopen(artifact.source, timeout=TIMEOUT_SECONDS) as response:
                data = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            # The first unreachable host marks the run offline: no wait per artifact.
            self.offline_reason = f"{artifact.source}: {exc}"
            return f"download failed ({exc})"
        got = hashlib.sha256(data).hexdigest()
        if got != artifact.sha256:
            return (
                f"downloaded from {artifact.source} with sha256 {got}, the lock pins "
                f"{artifact.sha256} ({artifact.note or 'refusing a different file'})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_lock(path: Path = LOCK) -> list[Artifact]:
    data = json.loads(path.read_text())
    return [
        Artifact(a["path"], a["sha256"], a.get("source"), a.get("note", ""))
        for a in data["artifacts"]
    ]


def default_mirror() -> Path | None:
    configured = os.environ.get("HP_ARTIFACT_MIRROR")
    if configured:
        return Path(configured)
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def fetcher_from_env() -> Fetcher:
    return Fetcher(
        cache=Path(os.environ.get("HP_ARTIFACT_CACHE", DEFAULT_CACHE)),
        mirror=default_mirror(),
        network=os.environ.get("HP_ARTIFACT_NETWORK", "1") != "0",
    )


def select(artifacts: Iterable[Artifact], prefixes: Sequence[str]) -> list[Artifact]:
    chosen = [a for a in artifacts if not prefixes or any(a.path.startswith(p) for p in prefixes)]
    if prefixes and not chosen:
        raise ArtifactError(f"no artifact in {LOCK.relative_to(REPO)} starts with {prefixes}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="Only artifacts whose path starts so.")
    parser.add_argument("--list", action="store_true", help="List the pinned artifacts.")
    args = parser.parse_args(argv)
    try:
        artifacts = select(load_lock(), args.prefixes)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.list:
        for a in artifacts:
            print(f"{a.sha256[:12]}  {a.path}  <- {a.source or 'mirror only: ' + a.note}")
        return 0
    fetcher = fetcher_from_env()
    try:
        fetcher.ensure(artifacts)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in fetcher.log:
        print(line)
    print(f"{len(artifacts)} artifacts ready in {fetcher.cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
