#!/usr/bin/env bash
# t/fuzz.sh [SECONDS]: builds the libFuzzer targets of t/fuzz/ and runs each for SECONDS
# (default 60) on a copy of its seed corpus; called by `./dev fuzz [SECONDS]` and by CI.
#
#   - build:   a separate dir (build-fuzz, or $DP_FUZZ_BUILD) configured with
#              CC=clang --enable-fuzzing --enable-sanitizers (ASan+UBSan+libFuzzer; the library
#              is compiled with -fsanitize=fuzzer-no-link so its code gives coverage).
#   - corpus:  t/fuzz/corpus/<target>/ holds small seeds taken from the tests' inputs. Each run
#              works on a temp copy, so the repository does not grow. To refresh the seeds,
#              minimise a run's corpus by hand: fuzz_X -merge=1 t/fuzz/corpus/fuzz_X NEWDIR.
#   - targets: $DP_FUZZ_TARGETS (space-separated names) limits the run, e.g. "fuzz_json".
#   - result:  prints executions/s and coverage per target; any crash, leak, timeout, sanitizer
#              report or failed invariant (the targets abort() on one) fails the run and
#              prints the reproducer's path (kept in build-fuzz/crashes/).
#
# A crash found here MUST become a regression test before it is fixed:
#   1. reproduce:   build-fuzz/t/fuzz/fuzz_X build-fuzz/crashes/fuzz_X-crash-<sha1>
#   2. add the input as a case of the unit test of that parser (t/unit/test_*.c), asserting the
#      answer it should get (usually a 400/422 problem), and copy the file into
#      t/fuzz/corpus/fuzz_X/ so every later fuzz run starts from it;
#   3. fix the parser; `./dev test` and `./dev fuzz` must then pass.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
SECONDS_EACH=${1:-60}
BUILD=${DP_FUZZ_BUILD:-build-fuzz}
log() { printf '[fuzz] %s\n' "$*" >&2; }

command -v clang >/dev/null || { log "clang is missing: run ./dev test once (it installs the packages)"; exit 2; }
"$TOP/dev" build "$BUILD" CC=clang --enable-fuzzing --enable-sanitizers --enable-werror

targets=${DP_FUZZ_TARGETS:-$(cd t/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
crashdir="$TOP/$BUILD/crashes"
mkdir -p "$crashdir"
work=$(mktemp -d /tmp/dp-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
printf '%-20s %10s %10s %8s %8s %s\n' target execs exec/s cov ft result
for t in $targets; do
    bin="$BUILD/t/fuzz/$t"
    [ -x "$bin" ] || { log "$t: not built"; failed+=("$t"); continue; }
    mkdir -p "$work/$t"
    [ -d "t/fuzz/corpus/$t" ] && cp -r "t/fuzz/corpus/$t/." "$work/$t/"
    rc=0
    (cd "$work" && "$TOP/$bin" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashdir/$t-" "$work/$t") >"$work/$t.log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
    last=$(grep -E '(DONE|INITED|REDUCE|NEW|pulse) +cov:' "$work/$t.log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    rate=$(( ${execs:-0} / (SECONDS_EACH > 0 ? SECONDS_EACH : 1) ))
    if [ "$rc" -ne 0 ]; then
        printf '%-20s %10s %10s %8s %8s %s\n' "$t" "${execs:--}" "$rate" "${cov:--}" "${ft:--}" FAILED
        grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|deadly signal|Test unit written' "$work/$t.log" | head -20 >&2
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -1)
        log "$t: reproducer: ${repro:-(none written; see the log above)}"
        [ -n "$repro" ] && log "replay: $bin $repro   (then make it a regression test: see t/fuzz.sh)"
        cp "$work/$t.log" "$crashdir/$t.log"
        failed+=("$t")
    else
        printf '%-20s %10s %10s %8s %8s %s\n' "$t" "${execs:--}" "$rate" "${cov:--}" "${ft:--}" ok
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    log "FAILED: ${failed[*]} (logs and reproducers in $crashdir)"
    exit 1
fi
log "all targets ran ${SECONDS_EACH}s without a finding"
