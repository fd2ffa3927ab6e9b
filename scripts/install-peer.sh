#!/usr/bin/env bash
# Install the pinned Baileys peer into tests/peer/node_modules with `npm ci` (lockfile exact).
# Under CI=true a missing or too old node/npm is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../tests/peer"
fail_or_warn() {
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 (required under CI=true)" >&2
    exit 1
  fi
  echo "warning: $1; the Baileys peer tests will be skipped" >&2
  exit 0
}
command -v node >/dev/null 2>&1 || fail_or_warn "node is not installed"
command -v npm >/dev/null 2>&1 || fail_or_warn "npm is not installed"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail_or_warn "node >= 20 is needed, found $(node --version)"
stamp=node_modules/.walink-installed
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
  exit 0
fi
npm ci --loglevel=error --no-fund --no-audit >&2
touch "$stamp"
