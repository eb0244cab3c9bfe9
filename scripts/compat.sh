#!/usr/bin/env bash
# Runs ../shared/compat (real MySQL clients) against understudy servers started here.
# usage: scripts/compat.sh SHARED_DIR
set -euo pipefail
SHARED=${1:?usage: compat.sh SHARED_DIR}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# the binary `make build` made (UNDERSTUDY_BIN), else cargo's default one
BIN="${UNDERSTUDY_BIN:-$HERE/target/release/understudy}"
LOG=$(mktemp -t understudy-compat.XXXXXX)
fail=0

# A free port: ask the kernel for one.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME ARGS...: starts the server, waits until it accepts connections.
start() {
  PORT=$(free_port)
  "$BIN" --port "$PORT" "$@" >>"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start; log:"; cat "$LOG"; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID" || { echo "server exited non-zero"; fail=1; }; }

echo "== built-in answers: seed, many"
start
bash "$SHARED/compat/run.sh" 127.0.0.1 "$PORT" seed many || fail=1
stop

if "$BIN" --help | grep -q -- --lua-script; then
  echo "== the seed's script (server_mock.lua), unchanged: seed with the mariadb CLI"
  start --lua-script "$SHARED/compat/server_mock.lua"
  bash "$SHARED/compat/run.sh" 127.0.0.1 "$PORT" seed --clients mariadb-cli || fail=1
  stop

  echo "== lua/compat.lua: every client, every scenario"
  start --lua-script "$SHARED/compat/lua/compat.lua"
  bash "$SHARED/compat/run.sh" 127.0.0.1 "$PORT" seed types write error prepared many big || fail=1
  stop
fi

exit $fail
