#!/usr/bin/env bash
# make soak: SOAK_CONNS connections held for SOAK_SECONDS against understudy
# while a mixed load runs beside them (handshake churn, queries at 50
# connections, clients that never read, clients that vanish mid-answer,
# oversized and malformed packets), the server's RSS sampled every
# SOAK_SAMPLE seconds; then every held connection must still answer.
# Twice: on the built-in answers, then with the seed script. The load is
# `loadgen soak` (benches/loadgen/soak.rs; its docs say what each part does).
#   SOAK_CONNS=N        held connections (default 19000)
#   SOAK_SECONDS=S      length of the load (default 600)
#   SOAK_WARMUP=S       samples before this are warm-up (default 60)
#   SOAK_SAMPLE=S       seconds between RSS samples (default 10)
#   SOAK_CHURN=N        handshake-churn connections (default 50)
#   SOAK_QUERY_CONNS=N  query-load connections (default 50)
#   SOAK_STUCK=N        clients that never read (default 8)
#   SOAK_MULTI=N        statements in the multi-statement (built-in run; default 5000)
#   SOAK_MODES="builtin seed"
# Results: bench-results/soak.jsonl (one JSON object per run). Exit 1 if a
# run failed (RSS not flat within 5 %, an unexpected error, a held connection
# not answering, the server gone).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
CONNS=${SOAK_CONNS:-19000}; SECS=${SOAK_SECONDS:-600}
WARMUP=${SOAK_WARMUP:-60}; SAMPLE=${SOAK_SAMPLE:-10}
CHURN=${SOAK_CHURN:-50}; QCONNS=${SOAK_QUERY_CONNS:-50}; STUCK=${SOAK_STUCK:-8}
MULTI=${SOAK_MULTI:-5000}; MODES=${SOAK_MODES:-builtin seed}
# The oversized probes declare a 16 MiB - 1 packet: the server's limit is put
# below that (and above the multi-statement, ~75 KB at 5000 statements).
MAXPKT=$((8 << 20))
OUT="$HERE/bench-results"; mkdir -p "$OUT"; JSONL="$OUT/soak.jsonl"; : >"$JSONL"

cargo build --release --benches >/dev/null 2>&1 || cargo build --release --benches
LG=$(ls -t target/release/deps/loadgen-* | grep -v '\.d$' | head -1)
if [ -n "${UNDERSTUDY_BIN:-}" ]; then US="$UNDERSTUDY_BIN"; else cargo build --release >/dev/null; US="$HERE/target/release/understudy"; fi
SEED="${SHARED:-$HERE/../shared}/compat/server_mock.lua"
# Both processes hold ~19,000 sockets: soft descriptor limit up to the hard one
# (the load generator raises its own too), and a wide ephemeral port range for
# the churn (loopback only; best effort).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 1000)) ]; then
  echo "note: descriptor limit $(ulimit -n) is tight for $CONNS held connections plus the mixed load"
fi
sysctl -qw net.ipv4.ip_local_port_range="15000 65000" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened"; exit 1; }

TMP=$(mktemp -d -t understudy-soak.XXXXXX)
SPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

FAILED=0
for mode in $MODES; do
  PORT=$(free_port)
  ARGS=(--port "$PORT" --max-packet "$MAXPKT")
  # The seed script answers only SHOW DATABASES (anything else is ERR 101),
  # COM_PING included, and its greeting offers no multi-statements.
  LOAD=(--sql "SHOW DATABASES")
  case $mode in
    builtin) LOAD+=(--multi "$MULTI") ;;
    seed) [ -f "$SEED" ] || { echo "no seed script at $SEED"; exit 1; }
          ARGS+=(--lua-script "$SEED"); LOAD+=(--check-sql "SHOW DATABASES") ;;
    *) echo "unknown SOAK_MODES entry $mode"; exit 2 ;;
  esac
  echo "== soak: $mode ($CONNS held, $SECS s; $US ${ARGS[*]})"
  "$US" "${ARGS[@]}" >"$TMP/$mode.log" 2>&1 &
  SPID=$!
  wait_port "$PORT"
  RC=0
  "$LG" soak --port "$PORT" --server-pid "$SPID" --conns "$CONNS" --secs "$SECS" \
    --warmup "$WARMUP" --sample "$SAMPLE" --churn "$CHURN" --query-conns "$QCONNS" \
    --stuck "$STUCK" --max-packet "$MAXPKT" "${LOAD[@]}" --label "$mode" >>"$JSONL" || RC=$?
  if kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID"; SRC=0; wait "$SPID" || SRC=$?
    echo "server exit status after SIGTERM: $SRC"
    [ "$SRC" = 0 ] || RC=1
  else
    SRC=0; wait "$SPID" || SRC=$?
    echo "server had exited by itself (status $SRC)"; RC=1
  fi
  SPID=""
  if grep -q "panicked" "$TMP/$mode.log"; then
    echo "server log has a panic:"; grep -m5 "panicked" "$TMP/$mode.log"; RC=1
  fi
  [ "$RC" = 0 ] && echo "== soak $mode: PASS" || { echo "== soak $mode: FAIL"; FAILED=1; }
done
echo "(JSON: $JSONL)"
exit "$FAILED"
