#!/usr/bin/env bash
# The driver matrix: real client libraries against understudy.
#
# usage: scripts/drivers.sh [BIN]        (BIN defaults to $UNDERSTUDY_BIN)
#
# Starts a server per mode on ports the kernel picks (--port 0, read back
# from the server's "listening on" line): `builtin` (the built-in answers),
# `rules` (--lua-script examples/rules.lua), `json` (--rules DIR and no
# script: examples/rules.lua's answers as JSON rules, DIR written into the log
# folder by examples/rules/matrix/generate.sh: the committed matrix.json plus
# the per-id users rules and the 200,000-row CSV of SELECT * FROM big) and
# `tls` (rules.lua over TLS only: --ssl-cert/--ssl-key signed by a CA that
# scripts/make-tls-certs.sh makes in the log folder, and
# --require-secure-transport, so a check that did not negotiate TLS gets
# ERR 3159 instead of a quiet plain pass).
# Runs every executable scripts/drivers/check-* as `check-NAME HOST PORT MODE`
# for each MODE (json and tls run the checks with MODE `rules`: they expect
# exactly rules.lua's answers; the runner writes `json`/`tls` as field 3 of
# their verdict lines) and collects the lines they print on stdout:
#     PASS <driver> <mode> <scenario> <detail>
#     FAIL <driver> <mode> <scenario> <detail>
#     N/A  <driver> <mode> <scenario> <detail>
# A check that exits non-zero without a FAIL line, prints no verdict at all, or
# runs past its time limit counts as a FAIL of its own. Prints every verdict,
# a summary (driver x mode: passed/failed/n-a), the scenario matrix, and last
# "drivers: N passed, M failed, K skipped"; exits 1 if anything failed (or a
# server died or exited non-zero), 2 on a usage error.
#
# The tls mode's check runs see, in their environment (no other run does):
#      DRIVERS_TLS_CA     the CA (PEM) that signed the servers' certificate
#                         (CN and SAN localhost, SAN IP 127.0.0.1): verify it
#      DRIVERS_TLS_PORTS  "native=P sha2=P sha256=P clear=P": one TLS-only
#                         server per --auth-plugin (mysql_native_password,
#                         caching_sha2_password with --auth-cache cold, so each
#                         login is a full authentication, sha256_password,
#                         mysql_clear_password), built-in answers, passwords
#                         checked (--user drivers:drivers-pw and u:p, the
#                         checks' accounts); the checks' tls-native, tls-sha2,
#                         tls-sha256 and tls-clear scenarios log in there and
#                         read the seed's answers
# and run their usual scenarios over TLS against the tls server, plus
# tls-compress (the compressed protocol over TLS, where the driver has it).
#
# env: DRIVERS_ONLY   check names to run (e.g. "pymysql mysql2"; default all)
#      DRIVERS_MODES  modes to run (default "builtin rules json tls")
#      DRIVERS_JOBS   check runs at once (default 2; each is one check x one mode)
#      DRIVERS_TIMEOUT seconds one check run may take (default 300: a liveness
#                     limit, not a timing assertion)
#      DRIVERS_MANY   connections for the *-many scenarios (default 500; the
#                     checks read it)
#      DRIVERS_LOG    folder for server logs and check stderr (default: a new
#                     temporary folder, kept and named at the end)
#      DRIVERS_RUST_LOG  RUST_LOG for the servers (default info)
#      DRIVERS_RULES  the rules script (default examples/rules.lua)
#      DRIVERS_JSON_GEN  the json mode's rules generator, run as `GEN DIR IDS`
#                     (default examples/rules/matrix/generate.sh; IDS is
#                     max(DRIVERS_MANY, 9): users-N rules for ids 0..IDS-1)
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKS="$ROOT/scripts/drivers"
BIN=${1:-${UNDERSTUDY_BIN:-}}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "usage: scripts/drivers.sh BIN   (or UNDERSTUDY_BIN=BIN); not an executable: '${BIN}'" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
RULES=${DRIVERS_RULES:-$ROOT/examples/rules.lua}
MODES=${DRIVERS_MODES:-builtin rules json tls}
JSON_GEN=${DRIVERS_JSON_GEN:-$ROOT/examples/rules/matrix/generate.sh}
JOBS=${DRIVERS_JOBS:-2}
TMO=${DRIVERS_TIMEOUT:-300}
export DRIVERS_MANY=${DRIVERS_MANY:-500}
LOG=${DRIVERS_LOG:-$(mktemp -d -t understudy-drivers.XXXXXX)}
mkdir -p "$LOG"
# a reused log folder: last run's verdicts and timings would be read as this
# run's (report_done waits for NAME.MODE.secs)
rm -f "$LOG"/*.out "$LOG"/*.secs "$LOG"/*.raw "$LOG"/*.err "$LOG"/verdicts.txt
HOST=127.0.0.1
T0=$(date +%s)

declare -A SPID SPORT
# On any exit (an interrupt, a closed output pipe) stop what this run
# started: the servers and the check runs still going.
cleanup() {
  trap - EXIT
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
  for p in "${SPID[@]}"; do kill -TERM "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
# start_server MODE ARGS...: starts one server on a free port and waits for its
# "listening on HOST:PORT" line (a liveness limit of 30 s, not a timing check).
start_server() {
  local mode=$1; shift
  local log="$LOG/server-$mode.log"
  : >"$log"
  RUST_LOG=${DRIVERS_RUST_LOG:-info} "$BIN" --bind "$HOST" --port 0 "$@" >"$log" 2>&1 &
  SPID[$mode]=$!
  local port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^understudy: listening on [0-9.]*:\([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "${SPID[$mode]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "FAIL server $mode start did not start: $(tail -c 400 "$log" | tr '\n' ' ')"
    return 1
  fi
  SPORT[$mode]=$port
  echo "== server $mode: $HOST:$port (pid ${SPID[$mode]}, log $log)"
}

fail=0
TLS_PORTS=""
for m in $MODES; do
  case "$m" in
    builtin) start_server builtin || fail=1 ;;
    rules) start_server rules --lua-script "$RULES" || fail=1 ;;
    json)
      # the rules directory: written afresh for this run, none of it a script
      ids=$(( DRIVERS_MANY > 9 ? DRIVERS_MANY : 9 ))
      if rm -rf "$LOG/rules-json" && timeout -k 5 120 bash "$JSON_GEN" "$LOG/rules-json" "$ids" >"$LOG/rules-json.gen.log" 2>&1; then
        start_server json --rules "$LOG/rules-json" || fail=1
      else
        echo "FAIL server json start rules generator $JSON_GEN failed: $(tail -c 400 "$LOG/rules-json.gen.log" | tr '\n' ' ')"; fail=1
      fi ;;
    tls)
      if bash "$ROOT/scripts/make-tls-certs.sh" "$LOG/tls" >"$LOG/tls.gen.log" 2>&1; then
        tls=(--ssl-cert "$LOG/tls/server.pem" --ssl-key "$LOG/tls/server.key" --require-secure-transport)
        start_server tls --lua-script "$RULES" "${tls[@]}" || fail=1
        TLS_PORTS=""
        for p in native:mysql_native_password sha2:caching_sha2_password sha256:sha256_password clear:mysql_clear_password; do
          extra=()
          [ "${p%%:*}" = sha2 ] && extra=(--auth-cache cold)
          start_server "tls-${p%%:*}" "${tls[@]}" --auth-plugin "${p#*:}" "${extra[@]}" \
            --user drivers:drivers-pw --user u:p || fail=1
          TLS_PORTS="$TLS_PORTS ${p%%:*}=${SPORT[tls-${p%%:*}]:-0}"
        done
        TLS_PORTS=${TLS_PORTS# }
      else
        echo "FAIL server tls start openssl could not make the certificates: $(tail -c 400 "$LOG/tls.gen.log" | tr '\n' ' ')"; fail=1
      fi ;;
    *) echo "FAIL runner $m mode unknown mode '$m' (builtin, rules, json or tls)"; fail=1 ;;
  esac
done

# The checks to run: every executable scripts/drivers/check-* (or DRIVERS_ONLY).
names=()
for f in "$CHECKS"/check-*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  n=${f##*/check-}
  if [ -n "${DRIVERS_ONLY:-}" ] && ! [[ " $DRIVERS_ONLY " == *" $n "* ]]; then continue; fi
  names+=("$n")
done
if [ -n "${DRIVERS_ONLY:-}" ]; then
  for n in $DRIVERS_ONLY; do
    [[ " ${names[*]} " == *" $n "* ]] || { echo "FAIL $n - check no executable scripts/drivers/check-$n"; fail=1; }
  done
fi

# run_one NAME MODE: one check run; its verdict lines go to $LOG/NAME.MODE.out,
# plus a runner FAIL line when the check gave no verdict, exited non-zero
# without a FAIL, or timed out.
run_one() {
  local n=$1 m=$2 out="$LOG/$1.$2.out" err="$LOG/$1.$2.err" raw="$LOG/$1.$2.raw"
  local port=${SPORT[$m]:-}
  if [ -z "$port" ]; then
    echo "FAIL $n $m check server for mode $m did not start" >"$out"; echo 0 >"$LOG/$n.$m.secs"; return
  fi
  # json and tls modes: the checks expect rules.lua's answers (MODE rules);
  # their verdict lines are labelled json or tls (field 3). Only tls runs get
  # the TLS environment.
  local arg=$m
  [ "$m" = json ] || [ "$m" = tls ] && arg=rules
  local tlsenv=()
  [ "$m" = tls ] && tlsenv=("DRIVERS_TLS_CA=$LOG/tls/ca.pem" "DRIVERS_TLS_PORTS=$TLS_PORTS")
  local t=$(date +%s)
  env "${tlsenv[@]}" timeout -k 10 "$TMO" "$CHECKS/check-$n" "$HOST" "$port" "$arg" >"$raw" 2>"$err" </dev/null
  local rc=$? secs=$(( $(date +%s) - t ))
  if [ "$m" = json ] || [ "$m" = tls ]; then
    grep -E '^(PASS|FAIL|N/A) [^ ]+ [^ ]+ [^ ]+' "$raw" | sed -E "s/^(PASS|FAIL|N\/A) ([^ ]+) [^ ]+ /\1 \2 $m /" | cut -c1-600 >"$out"
  else
    grep -E '^(PASS|FAIL|N/A) [^ ]+ [^ ]+ [^ ]+' "$raw" | cut -c1-600 >"$out"
  fi
  local why=""
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="timed out after ${TMO}s (rc=$rc)"
  elif ! [ -s "$out" ]; then why="no verdict (rc=$rc)"
  elif [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then why="exited rc=$rc without a FAIL line"
  fi
  if [ -n "$why" ]; then
    echo "FAIL $n $m check $why: $( (tail -c 300 "$raw"; tail -c 300 "$err") | tr '\n' ' ')" >>"$out"
  fi
  echo "${secs}" >"$LOG/$n.$m.secs.tmp" && mv "$LOG/$n.$m.secs.tmp" "$LOG/$n.$m.secs"
}

# Check runs, at most $JOBS at once; verdicts are printed in run order, each
# run's as soon as it and those before it have ended.
runs=()
for n in "${names[@]}"; do for m in $MODES; do runs+=("$n $m"); done; done
reported=0
report_done() {
  while [ "$reported" -lt "${#runs[@]}" ]; do
    set -- ${runs[$reported]}
    [ -e "$LOG/$1.$2.secs" ] || return 0
    cat "$LOG/$1.$2.out"
    echo "   ($1 $2: $(cat "$LOG/$1.$2.secs")s, stderr $LOG/$1.$2.err)"
    reported=$((reported + 1))
  done
}
# the check runs still going: background jobs that are not servers
others() {
  local pats=(-e x) p
  for p in "${SPID[@]}"; do pats+=(-e "$p"); done
  jobs -rp | grep -cvxF "${pats[@]}"
}
for r in "${runs[@]}"; do
  set -- $r
  while [ "$(others)" -ge "$JOBS" ]; do
    wait -n 2>/dev/null || true
    report_done
  done
  run_one "$1" "$2" &
done
while [ "$(others)" -gt 0 ]; do
  wait -n 2>/dev/null || true
  report_done
done
report_done

# The servers (one per mode, and tls's per-plugin ones) must still be up,
# and exit 0 on SIGTERM.
for m in "${!SPID[@]}"; do
  pid=${SPID[$m]:-}
  [ -n "$pid" ] || continue
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; echo "FAIL server $m alive server died during the run (rc=$?); log $LOG/server-$m.log"; fail=1
    unset "SPID[$m]"
    continue
  fi
  kill -TERM "$pid"; wait "$pid"; rc=$?
  unset "SPID[$m]"
  [ $rc -eq 0 ] || { echo "FAIL server $m exit server exited rc=$rc on SIGTERM; log $LOG/server-$m.log"; fail=1; }
done

# Tables from every verdict line.
cat "$LOG"/*.out 2>/dev/null >"$LOG/verdicts.txt"
awk -v fail="$fail" '
  BEGIN { order = "ps-params ps-types ps-ok ps-error ps-twice ps-many ps-big text-params text-types text-ok text-error text-twice text-many text-big tls-native tls-sha2 tls-sha256 tls-clear tls-compress"
          ns = split(order, o, " "); for (i = 1; i <= ns; i++) { rank[o[i]] = i; scen[i] = o[i] } }
  {
    v = $1; d = $2; m = $3; s = $4
    if (!((d, m) in seen)) { seen[d, m] = 1; rows[++nr] = d SUBSEP m }
    if (!(s in rank)) { rank[s] = ++ns; scen[ns] = s }
    cell = (v == "PASS") ? "pass" : (v == "FAIL") ? "FAIL" : "n/a"
    if (((d, m, s) in res) && res[d, m, s] == "FAIL") cell = "FAIL"
    res[d, m, s] = cell; used[s] = 1
    if (v == "PASS") { p[d, m]++; tp++ } else if (v == "FAIL") { f[d, m]++; tf++ } else { na[d, m]++; tn++ }
  }
  END {
    printf "\n%-16s %-8s %6s %6s %5s\n", "driver", "mode", "passed", "failed", "n/a"
    for (i = 1; i <= nr; i++) { split(rows[i], k, SUBSEP)
      printf "%-16s %-8s %6d %6d %5d\n", k[1], k[2], p[rows[i]], f[rows[i]], na[rows[i]] }
    # the scenario matrix in two tables: prepared (ps-*), then the rest
    for (g = 1; g <= 2; g++) {
      any = 0
      for (j = 1; j <= ns; j++) if ((scen[j] in used) && ((substr(scen[j], 1, 3) == "ps-") == (g == 1))) any = 1
      if (!any) continue
      printf "\n%-16s %-8s", "driver", "mode"
      for (j = 1; j <= ns; j++) if ((scen[j] in used) && ((substr(scen[j], 1, 3) == "ps-") == (g == 1))) printf " %-11s", scen[j]
      printf "\n"
      for (i = 1; i <= nr; i++) { split(rows[i], k, SUBSEP)
        line = sprintf("%-16s %-8s", k[1], k[2]); cells = 0
        for (j = 1; j <= ns; j++) if ((scen[j] in used) && ((substr(scen[j], 1, 3) == "ps-") == (g == 1))) {
          c = "-"
          if ((k[1], k[2], scen[j]) in res) { c = res[k[1], k[2], scen[j]]; cells++ }
          line = line sprintf(" %-11s", c) }
        if (cells) print line }   # a driver with no scenario in this table: no row
    }
    if (fail) tf++
    printf "\ndrivers: %d passed, %d failed, %d skipped\n", tp, tf, tn
    exit (tf > 0) ? 1 : 0
  }' "$LOG/verdicts.txt"
rc=$?
echo "(logs and check stderr: $LOG; $(( $(date +%s) - T0 ))s)"
exit $rc
