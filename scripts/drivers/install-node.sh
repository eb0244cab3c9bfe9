#!/usr/bin/env bash
# node mysql2 for check-mysql2: npm install into DRIVERS_NODE_DIR (default
# ~/.cache/understudy-drivers-node), version pinned in node/package.json.
# Node itself: the machine's, else Debian's nodejs + npm.
# Idempotent; quiet when already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR=${DRIVERS_NODE_DIR:-$HOME/.cache/understudy-drivers-node}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "[install-node] apt-get install nodejs npm"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$DIR"
if ! cmp -s "$HERE/node/package.json" "$DIR/package.json" || [ ! -f "$DIR/node_modules/mysql2/package.json" ]; then
  echo "[install-node] npm install (mysql2) in $DIR"
  cp "$HERE/node/package.json" "$DIR/package.json"
  (cd "$DIR" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
node -e 'require(process.argv[1] + "/node_modules/mysql2")' "$DIR"
