#!/usr/bin/env bash
# Static security scan of the Terraform code with checkov, fully offline.
#
# Usage: scripts/checkov.sh [DIRECTORY]        (default: deploy/terraform)
#
# checkov pins old versions of boto3 and ships its own `hcl2` module that shadows
# python-hcl2, so it lives in its own virtualenv (.cache/checkov-venv), created on
# first use. Accepted findings are listed in .checkov.yaml next to the scanned
# code and justified in docs/terraform.md.
#
# Environment:
#   PYTHON          interpreter used to create the virtualenv (default: python3)
#   CHECKOV_VENV    virtualenv location (default: <repo>/.cache/checkov-venv)
set -euo pipefail

CHECKOV_VERSION="3.3.30"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-deploy/terraform}"
venv="${CHECKOV_VENV:-${repo_root}/.cache/checkov-venv}"
python="${PYTHON:-python3}"

cd "${repo_root}"

if [[ ! -d "${target}" ]]; then
  echo "checkov.sh: ${target} is not a directory" >&2
  exit 2
fi

installed_version() {
  "${venv}/bin/checkov" --version 2>/dev/null || true
}

if [[ ! -x "${venv}/bin/checkov" || "$(installed_version)" != "${CHECKOV_VERSION}" ]]; then
  echo "checkov.sh: installing checkov ${CHECKOV_VERSION} into ${venv}" >&2
  rm -rf "${venv}"
  mkdir -p "$(dirname "${venv}")"
  log="$(dirname "${venv}")/checkov-install.log"
  if ! {
    "${python}" -m venv "${venv}" &&
      "${venv}/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
      "${venv}/bin/python" -m pip install --disable-pip-version-check "checkov==${CHECKOV_VERSION}"
  } >"${log}" 2>&1; then
    echo "checkov.sh: installing checkov failed; last lines of ${log}:" >&2
    tail -n 30 "${log}" >&2
    rm -rf "${venv}"
    exit 3
  fi
fi

config_args=()
if [[ -f "${target}/.checkov.yaml" ]]; then
  config_args=(--config-file "${target}/.checkov.yaml")
fi

# --skip-download: no Bridgecrew/Prisma platform, no network; built-in policies only.
# Findings make checkov exit non-zero, which fails the caller.
exec "${venv}/bin/checkov" \
  -d "${target}" \
  --framework terraform \
  --skip-download \
  --quiet \
  --compact \
  "${config_args[@]}"
