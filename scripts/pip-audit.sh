#!/usr/bin/env bash
# Known vulnerabilities in the pinned dependencies (requirements.lock) with pip-audit.
#
# Usage: scripts/pip-audit.sh [REQUIREMENTS]        (default: requirements.lock)
#
# pip-audit lives in its own virtualenv (.cache/pip-audit-venv). Every requirement is pinned
# (==), so pip is not run (--disable-pip --no-deps): each pin is looked up in the
# vulnerability service, PyPI's JSON API by default (PIP_AUDIT_SERVICE=osv for OSV). The
# service is probed first; when it cannot answer the script exits 4 with a message saying
# so (a dependency audit that could not run is a failure, not a pass).
# Accepted vulnerabilities: PIP_AUDIT_IGNORE="GHSA-... PYSEC-..." (justify in docs/security.md).
set -euo pipefail

PIP_AUDIT_VERSION="2.10.1"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
requirements="${1:-requirements.lock}"
venv="${PIP_AUDIT_VENV:-${repo_root}/.cache/pip-audit-venv}"
service="${PIP_AUDIT_SERVICE:-pypi}"
python="${PYTHON:-python3}"

if [[ ! -x "${venv}/bin/pip-audit" || "$("${venv}/bin/pip-audit" --version 2>/dev/null)" != "pip-audit ${PIP_AUDIT_VERSION}" ]]; then
  echo "pip-audit.sh: installing pip-audit ${PIP_AUDIT_VERSION} into ${venv}" >&2
  rm -rf "${venv}"
  mkdir -p "$(dirname "${venv}")"
  log="$(dirname "${venv}")/pip-audit-install.log"
  if ! { "${python}" -m venv "${venv}" &&
    "${venv}/bin/python" -m pip install --disable-pip-version-check "pip-audit==${PIP_AUDIT_VERSION}"; } >"${log}" 2>&1; then
    echo "pip-audit.sh: installing pip-audit failed; last lines of ${log}:" >&2
    tail -n 30 "${log}" >&2
    rm -rf "${venv}"
    exit 3
  fi
fi

# Probe the service with the first pin: the endpoint pip-audit will call for every pin.
if ! "${venv}/bin/python" - "${requirements}" "${service}" <<'PY'
import json, re, sys, urllib.error, urllib.request
path, service = sys.argv[1], sys.argv[2]
pin = next(l for l in open(path) if re.match(r"^[A-Za-z0-9._-]+==", l)).strip()
name, version = pin.split("==", 1)
if service == "osv":
    body = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version})
    request = urllib.request.Request("https://api.osv.dev/v1/query", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
else:
    request = urllib.request.Request(f"https://pypi.org/pypi/{name}/{version}/json")
try:
    with urllib.request.urlopen(request, timeout=20) as response:
        json.load(response)
except (urllib.error.URLError, OSError, ValueError) as exc:
    print(f"pip-audit.sh: the vulnerability service ({service}) is unreachable: "
          f"{request.full_url} -> {exc}. The dependency audit did not run.", file=sys.stderr)
    sys.exit(1)
PY
then
  exit 4
fi

ignores=()
for id in ${PIP_AUDIT_IGNORE:-}; do ignores+=(--ignore-vuln "${id}"); done
exec "${venv}/bin/pip-audit" --disable-pip --no-deps --strict --progress-spinner off \
  --vulnerability-service "${service}" -r "${requirements}" "${ignores[@]}"
