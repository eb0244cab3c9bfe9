#!/usr/bin/env bash
# Runs every fuzz target (or those in FUZZ_TARGETS) for FUZZ_SECONDS each, one
# after another (the machines have two cores), and prints how many inputs each
# ran and whether it crashed; exits 1 if any did. Used by `make fuzz`.
#
#   FUZZ_SECONDS=60      time per target
#   FUZZ_TARGETS="..."   which targets (default: all of fuzz/Cargo.toml's)
#   FUZZ_TIMEOUT=10      seconds one input may take before it counts as a hang
#   FUZZ_SANITIZER=none  cargo-fuzz sanitizer; safe Rust gains little from
#                        ASan and runs about twice as fast without it
#   FUZZ_ARGS="..."      extra libFuzzer flags (e.g. -max_len=65536)
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET), with the
# dictionary fuzz/dicts/TARGET.dict where there is one, and the
# corpus earlier runs grew (fuzz/corpus/TARGET, not committed); a crash is
# written to fuzz/artifacts/TARGET/ and the run's log to fuzz/artifacts/TARGET.log.
# Reproduce a crash with: fuzz/target/<triple>/release/TARGET ARTIFACT
set -uo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-10}
SANITIZER=${FUZZ_SANITIZER:-none}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "make fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)" >&2
    cargo install cargo-fuzz || exit 2
fi

ALL=$(cargo +nightly fuzz list)
TARGETS=${FUZZ_TARGETS:-$ALL}

# -a: debug assertions and overflow checks on, as in the tests.
cargo +nightly fuzz build -a -s "$SANITIZER" || exit 2
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN=target/$TRIPLE/release

declare -A RUNS STATUS
failed=0
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="artifacts/$t.log"
    before=$(ls "artifacts/$t" | wc -l)
    echo "== $t: ${SECONDS_PER_TARGET}s"
    dict=()
    [ -f "dicts/$t.dict" ] && dict=(-dict="dicts/$t.dict")
    # shellcheck disable=SC2086
    "$BIN/$t" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" ${FUZZ_ARGS:-} \
        "corpus/$t" "seeds/$t" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$runs" ]; then
        # no final stats (killed?): the last status line's "#N"
        runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    fi
    RUNS[$t]=${runs:-0}
    after=$(ls "artifacts/$t" | wc -l)
    if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
        STATUS[$t]="CRASHED (exit $rc): $(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')"
        grep -m1 -E 'panicked at|ERROR: libFuzzer' -A2 "$log" | sed 's/^/    /'
        failed=1
    else
        STATUS[$t]="ok"
    fi
    echo "   ${RUNS[$t]} inputs, ${STATUS[$t]}"
done

echo
printf '%-20s %14s  %s\n' target inputs result
for t in $TARGETS; do
    printf '%-20s %14s  %s\n' "$t" "${RUNS[$t]}" "${STATUS[$t]}"
done
exit $failed
