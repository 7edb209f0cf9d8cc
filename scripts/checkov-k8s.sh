#!/usr/bin/env bash
# Static security scan of the Kubernetes side with checkov, fully offline:
#   * the chart rendered for every profile, with and without the optional features, plus
#     the opt-in security objects (Namespace, RBAC bindings);
#   * the Helm chart itself (checkov's helm framework, chart defaults);
#   * the Dockerfile.
#
# Usage: scripts/checkov-k8s.sh [MANIFEST_DIR]   (a directory: scan only those manifests)
#
# Reuses the checkov virtualenv of scripts/checkov.sh (.cache/checkov-venv, same pinned
# version); Helm comes from scripts/ensure-k8s-tools.sh. Accepted findings are skipped in
# .checkov-k8s.yaml and justified in docs/security.md. Findings exit non-zero.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
venv="${CHECKOV_VENV:-${repo_root}/.cache/checkov-venv}"
python="${PYTHON:-python3}"
config="${repo_root}/.checkov-k8s.yaml"
version="$(sed -n 's/^CHECKOV_VERSION="\(.*\)"$/\1/p' scripts/checkov.sh)"

if [[ ! -x "${venv}/bin/checkov" || "$("${venv}/bin/checkov" --version 2>/dev/null)" != "${version}" ]]; then
  echo "checkov-k8s.sh: installing checkov ${version} into ${venv}" >&2
  rm -rf "${venv}"
  mkdir -p "$(dirname "${venv}")"
  log="$(dirname "${venv}")/checkov-install.log"
  if ! { "${python}" -m venv "${venv}" &&
    "${venv}/bin/python" -m pip install --disable-pip-version-check "checkov==${version}"; } >"${log}" 2>&1; then
    echo "checkov-k8s.sh: installing checkov failed; last lines of ${log}:" >&2
    tail -n 30 "${log}" >&2
    rm -rf "${venv}"
    exit 3
  fi
fi
checkov=("${venv}/bin/checkov" --config-file "${config}")

if [[ $# -gt 0 ]]; then
  exec "${checkov[@]}" -d "$1" --framework kubernetes
fi

tools="$(bash scripts/ensure-k8s-tools.sh)"
helm3="$(sed -n 's/^HELM3=//p' <<<"${tools}")"
helm4="$(sed -n 's/^HELM4=//p' <<<"${tools}")"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cat >"${work}/extras.yaml" <<'VALUES'
security:
  namespaces: {create: true, podSecurity: restricted}
  rbac:
    create: true
    developers: [{kind: Group, name: hp-developers}]
    operators: [{kind: Group, name: hp-operators}]
VALUES
mkdir -p "${work}/render"
for profile in deploy/profiles/*.yaml; do
  name="$(basename "${profile}" .yaml)"
  "${helm4}" template hp deploy/charts/healthplatform --namespace healthplatform \
    --kube-version 1.34.1 -f "${profile}" >"${work}/render/${name}.yaml"
  "${helm4}" template hp deploy/charts/healthplatform --namespace healthplatform \
    --kube-version 1.34.1 -f "${profile}" -f "${work}/extras.yaml" \
    --set objectStore.provider=seaweedfs --set monitoring.serviceMonitors.enabled=true \
    >"${work}/render/${name}-all-features.yaml"
done

status=0
echo "== Kubernetes render (every profile)"
"${checkov[@]}" -d "${work}/render" --framework kubernetes || status=1
echo "== Helm chart"
PATH="$(dirname "${helm3}"):${PATH}" "${checkov[@]}" -d deploy/charts --framework helm || status=1
echo "== Dockerfile"
"${checkov[@]}" -f Dockerfile --framework dockerfile || status=1
exit "${status}"
