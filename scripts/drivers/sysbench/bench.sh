#!/usr/bin/env bash
# sysbench oltp_point_select (prepared: --db-ps-mode=auto) at 16 threads against
# understudy answering with examples/rules.lua and against MariaDB loaded by
# `sysbench prepare`, in the same run, reps interleaved (a bench, not a test).
#
# usage: bench.sh [UNDERSTUDY_BIN]
#   Without SB_US_PORT it starts understudy (the argument or $UNDERSTUDY_BIN)
#   with examples/rules.lua on a free port; without SB_MDB_PORT it starts a
#   MariaDB of its own on a private datadir (Debian's mariadb-server, installed
#   if missing). Servers it starts run on core 0, sysbench on core 1 (taskset).
# env: SB_US_PORT SB_US_PID        an understudy already running rules.lua
#      SB_MDB_PORT SB_MDB_PID      a MariaDB already running, with user u/p
#                                  allowed to create tables in database `test`
#      SB_REPS (3) SB_SECS (10) SB_THREADS (16) SB_TABLE_SIZE (10000)
#      SB_PIN=0                    no taskset (default: pin as benches/run.sh does)
#      BENCH_QUICK=1               one 3-second rep
# stdout: one JSON line per run, in benches/run.sh's raw.jsonl form:
#   {"workload":"sysbench","label":"SERVER|repN|sysbench_point_select_t16",
#    "ops_per_sec":TPS,"qps":..,"avg_ms":..,"p95_ms":..,"errors":..,
#    "reconnects":..,"server_cpu_us_per_op":..}
# stderr: progress and a summary (median tps per server, understudy/MariaDB).
# Exits non-zero if a run failed (sysbench error, errors or reconnects > 0).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BIN=${1:-${UNDERSTUDY_BIN:-}}
REPS=${SB_REPS:-3}; SECS=${SB_SECS:-10}; THREADS=${SB_THREADS:-16}; SIZE=${SB_TABLE_SIZE:-10000}
if [ "${BENCH_QUICK:-0}" = 1 ]; then REPS=1; SECS=3; fi
KEY="sysbench_point_select_t$THREADS"
log() { echo "bench.sh: $*" >&2; }

bash "$HERE/scripts/drivers/install-sysbench.sh" >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  log "port $1 never opened"; exit 1
}
SERVER_CPU=(); CLIENT_CPU=()
if [ "${SB_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1); fi

TMP=$(mktemp -d -t sysbench-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

US_PORT=${SB_US_PORT:-}; US_PID=${SB_US_PID:-}
if [ -z "$US_PORT" ]; then
  [ -n "$BIN" ] || { log "usage: bench.sh UNDERSTUDY_BIN (or UNDERSTUDY_BIN / SB_US_PORT)"; exit 2; }
  US_PORT=$(free_port)
  "${SERVER_CPU[@]}" "$BIN" --port "$US_PORT" --lua-script "$HERE/examples/rules.lua" >"$TMP/us.log" 2>&1 &
  US_PID=$!; PIDS+=("$US_PID")
  wait_port "$US_PORT"
fi

MDB_PORT=${SB_MDB_PORT:-}; MDB_PID=${SB_MDB_PID:-}
if [ -z "$MDB_PORT" ]; then
  if ! command -v mariadbd >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 mariadb-server mariadb-client >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 mariadb-server mariadb-client >/dev/null; }
  fi
  log "starting MariaDB (private datadir)"
  MDB_PORT=$(free_port)
  mariadb-install-db --no-defaults --user=root --datadir="$TMP/mdb" --auth-root-authentication-method=normal >/dev/null 2>&1
  "${SERVER_CPU[@]}" mariadbd --no-defaults --user=root --datadir="$TMP/mdb" --socket="$TMP/mdb.sock" \
    --port="$MDB_PORT" --bind-address=127.0.0.1 --skip-name-resolve --max-connections=2000 \
    --innodb-buffer-pool-size=256M --skip-log-bin >"$TMP/mdb.log" 2>&1 &
  MDB_PID=$!; PIDS+=("$MDB_PID")
  wait_port "$MDB_PORT"
  mariadb --no-defaults -S "$TMP/mdb.sock" -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'p';
GRANT ALL ON *.* TO 'u'@'%';
CREATE DATABASE IF NOT EXISTS test;
SQL
fi

SB=(sysbench oltp_point_select --db-driver=mysql --db-ps-mode=auto --mysql-host=127.0.0.1
    --mysql-user=u --mysql-password=p --mysql-db=test --tables=1 --table-size="$SIZE")
log "sysbench prepare on MariaDB ($SIZE rows)"
"${SB[@]}" --mysql-port="$MDB_PORT" cleanup >/dev/null 2>&1 || true
"${SB[@]}" --mysql-port="$MDB_PORT" prepare >"$TMP/prepare.log" 2>&1 || { cat "$TMP/prepare.log" >&2; exit 1; }

cpu_ticks() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo ""; }
TCK=$(getconf CLK_TCK)
run() { # SERVER PORT PID REP
  local server=$1 port=$2 pid=$3 rep=$4 out rc c0 c1
  c0=$(cpu_ticks "$pid")
  out=$("${CLIENT_CPU[@]}" timeout -k 5 $((SECS + 60)) "${SB[@]}" --mysql-port="$port" --threads="$THREADS" \
    --time="$SECS" --events=0 --report-interval=0 run 2>&1) && rc=0 || rc=$?
  c1=$(cpu_ticks "$pid")
  printf '%s\n' "$out" >"$TMP/$server.$rep.out"
  python3 "$HERE/scripts/drivers/sysbench/report.py" "$server" "$rep" "$KEY" "$rc" "${c0:-}" "${c1:-}" "$TCK" \
    <<<"$out" >>"$TMP/raw.jsonl"
  log "$server rep $rep: $(tail -n 1 "$TMP/raw.jsonl" | cut -c1-200)"
}

: >"$TMP/raw.jsonl"
for rep in $(seq 1 "$REPS"); do
  run understudy "$US_PORT" "$US_PID" "$rep"
  run mariadb "$MDB_PORT" "$MDB_PID" "$rep"
done
cat "$TMP/raw.jsonl"

python3 - "$TMP/raw.jsonl" "$KEY" >&2 <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = sys.argv[2]
by = {}
for r in rows:
    s, rep, _ = r["label"].split("|")
    by.setdefault(s, {})[rep] = r
med = lambda xs: statistics.median(xs) if xs else None
u, m = by.get("understudy", {}), by.get("mariadb", {})
ut = med([r["ops_per_sec"] for r in u.values() if r.get("ok")])
mt = med([r["ops_per_sec"] for r in m.values() if r.get("ok")])
ratios = [u[k]["ops_per_sec"] / m[k]["ops_per_sec"] for k in u if k in m and m[k].get("ok") and u[k].get("ok") and m[k]["ops_per_sec"]]
ratio = med(ratios)
f = lambda v: "-" if v is None else f"{v:,.0f}"
cpu = lambda rs: med([r["server_cpu_us_per_op"] for r in rs.values() if r.get("server_cpu_us_per_op")])
cu, cm = cpu(u), cpu(m)
note = f"server CPU/trx {cu:.1f} vs {cm:.1f} us" if cu and cm else ""
print(f"{key}: understudy {f(ut)} tps, MariaDB {f(mt)} tps, ratio {'-' if ratio is None else f'{ratio:.2f}'} ({len(u)} reps) {note}")
bad = [r["label"] + ": " + r.get("why", "") for r in rows if not r.get("ok")]
for b in bad:
    print("failed run " + b)
sys.exit(1 if bad else 0)
PY
