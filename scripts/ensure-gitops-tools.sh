#!/usr/bin/env bash
# Offline tooling for the workflow checks (tests/deploy/test_workflows.py), idempotent.
#
#   .cache/gitops-tools/venv/bin/check-jsonschema   (PyPI check-jsonschema, pinned below)
#
# check-jsonschema vendors the SchemaStore schemas of CI files; the tests validate
# .github/workflows/*.yml against its `vendor.github-workflows` schema, offline. Its own
# virtualenv keeps its dependencies out of the project's lock file.
#
# Usage: scripts/ensure-gitops-tools.sh     prints KEY=PATH lines for the tests to read
# Environment: GITOPS_TOOLS_DIR (default <repo>/.cache/gitops-tools), PYTHON (default python3)
set -euo pipefail

CHECK_JSONSCHEMA_VERSION="0.39.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${GITOPS_TOOLS_DIR:-${repo_root}/.cache/gitops-tools}"
python="${PYTHON:-python3}"
venv="${tools}/venv"
stamp="${venv}/.installed-cj${CHECK_JSONSCHEMA_VERSION}"

die() {
  echo "ensure-gitops-tools.sh: $*" >&2
  exit 1
}

if [[ ! -f "${stamp}" ]]; then
  rm -rf "${venv}"
  mkdir -p "${tools}"
  "${python}" -m venv "${venv}" || die "cannot create ${venv}"
  "${venv}/bin/python" -m pip install -q --disable-pip-version-check \
    "check-jsonschema==${CHECK_JSONSCHEMA_VERSION}" || die "pip install failed (see above)"
  touch "${stamp}"
fi
[[ -x "${venv}/bin/check-jsonschema" ]] || die "check-jsonschema missing in ${venv}"
schema="$("${venv}/bin/python" -c 'import check_jsonschema, pathlib; print(pathlib.Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/github-workflows.json")')"
[[ -f "${schema}" ]] || die "vendored github-workflows schema missing: ${schema}"

echo "CHECK_JSONSCHEMA=${venv}/bin/check-jsonschema"
echo "GITHUB_WORKFLOWS_SCHEMA=${schema}"
