#!/usr/bin/env bash
# `make install` (and the first `make run`): create the virtualenv and install the pinned
# dependencies, showing progress instead of minutes of silence. Usage: install-venv.sh VENV PYTHON
set -euo pipefail
venv=$1
python=$2
echo "==> Installing the pinned dependencies into $venv (first run: a few minutes)"
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
log="$venv/install.log"
"$venv/bin/python" -m pip install -c requirements.lock -e '.[dev]' >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  printf '\r    %s packages collected...' "$(grep -c '^Collecting' "$log" || true)"
  sleep 1
done
if ! wait "$pid"; then
  echo
  tail -n 30 "$log"
  echo "==> install failed; the full log is $log" >&2
  exit 1
fi
printf '\r    %s packages collected, installed.\n' "$(grep -c '^Collecting' "$log" || true)"
