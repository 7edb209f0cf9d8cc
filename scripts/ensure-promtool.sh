#!/usr/bin/env bash
# promtool (Prometheus rule checks and rule unit tests) and amtool (Alertmanager config
# checks) for tests/deploy/test_observability*.py. Both come from Debian packages
# (`prometheus`, `prometheus-alertmanager`); installed with apt-get when missing. Services are
# not started (policy-rc.d). Prints PROMTOOL=<path>, AMTOOL=<path> and their versions;
# exits non-zero when a tool is missing afterwards or older than the pinned minimum.
set -euo pipefail

PROMTOOL_MIN=2.42.0   # Debian 12 (bookworm): prometheus 2.42.0+ds-5+deb12u1
AMTOOL_MIN=0.25.0     # Debian 12 (bookworm): prometheus-alertmanager 0.25.0-1+b4

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages) for promtool/amtool" >&2
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  trap 'if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

version_of() { "$1" --version 2>&1 | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p' | head -1; }
at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" == "$2" ]]; }

promtool_version=$(version_of promtool)
amtool_version=$(version_of amtool)
at_least "$promtool_version" "$PROMTOOL_MIN" || { echo "promtool $promtool_version < $PROMTOOL_MIN" >&2; exit 1; }
at_least "$amtool_version" "$AMTOOL_MIN" || { echo "amtool $amtool_version < $AMTOOL_MIN" >&2; exit 1; }
echo "PROMTOOL=$(command -v promtool)"
echo "PROMTOOL_VERSION=$promtool_version"
echo "AMTOOL=$(command -v amtool)"
echo "AMTOOL_VERSION=$amtool_version"
