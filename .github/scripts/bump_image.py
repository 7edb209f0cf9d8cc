"""Set the platform image in GitOps values files (deploy/argocd/envs/<env>/image.yaml).

Used by .github/workflows/images.yml after the image was built, scanned and attested:

    python3 .github/scripts/bump_image.py --image ghcr.io/owner/repo --tag <git sha> \
        --digest sha256:<64 hex> deploy/argocd/envs/*/image.yaml

Only the four values of the ``image:`` block are rewritten, in place, so comments and the
rest of the file stay as they are. Standard library only (runs on a bare runner).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
KEYS = ("registry", "repository", "tag", "digest")


def new_values(image: str, tag: str, digest: str) -> dict[str, str]:
    """The image block's values; raises ValueError for anything the chart would refuse."""
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    if not TAG.fullmatch(tag) or tag == "latest":
        raise ValueError(f"not a pinned tag: {tag!r}")
    registry, _, repository = image.partition("/")
    if not repository or "." not in registry or image != image.lower():
        raise ValueError(f"expected <registry>/<repository> in lower case, got {image!r}")
    return {"registry": registry, "repository": repository, "tag": tag, "digest": digest}


def bump(text: str, values: dict[str, str]) -> str:
    """``text`` with the values under the top-level ``image:`` key replaced."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "image:")
    except StopIteration:
        raise ValueError("no top-level `image:` block") from None
    seen: set[str] = set()
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith((" ", "#")):
            break  # next top-level key
        match = re.match(r"^(\s+)(registry|repository|tag|digest):(\s*)(.*?)(\s*#.*)?$", line)
        if match:
            indent, key, _, _, comment = match.groups()
            lines[i] = f'{indent}{key}: "{values[key]}"{comment or ""}\n'
            seen.add(key)
    missing = [key for key in KEYS if key not in seen]
    if missing:
        raise ValueError(f"`image:` block has no {missing}")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="registry/repository, lower case")
    parser.add_argument("--tag", required=True, help="image tag (the git SHA)")
    parser.add_argument("--digest", required=True, help="sha256:<64 hex> of the pushed index")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        values = new_values(args.image, args.tag, args.digest)
        for path in args.files:
            path.write_text(bump(path.read_text(), values))
            print(f"{path}: {args.image}:{args.tag}@{args.digest}")
    except (OSError, ValueError) as error:
        print(f"bump_image.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
