#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/e2e) if it is missing, and the
# pinned playwright-core (tests/e2e/package-lock.json). Idempotent; needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

command -v node >/dev/null || { echo "error: node (>= 20) not found; playwright-core needs it" >&2; exit 1; }
lock=tests/e2e/package-lock.json
stamp=tests/e2e/node_modules/.installed-$(cksum <"$lock" | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
echo "browser ready: chromium $(dpkg-query -W -f='${Version}' chromium), playwright-core $(node -p "require('./tests/e2e/node_modules/playwright-core/package.json').version")"
