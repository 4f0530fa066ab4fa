#!/usr/bin/env bash
# bench/run.sh: the benchmarks of issue 7 (called by `./dev bench`). Builds a plain optimised
# module in build-bench (never with sanitizers), the trivial test module with apxs and the
# bare-socket load tool, then runs bench/bench.py, which writes docs/benchmarks.md.
#   BENCH_REPS=3 BENCH_DURATION=5 BENCH_FRESH=25 ./dev bench [--json FILE] [--out FILE]
#   ./dev bench --only-webhook   the webhook intake benchmark alone (bench/webhook_intake.py)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
B=${DP_BENCH_BUILD:-build-bench}
log() { printf '[bench] %s\n' "$*" >&2; }

for p in wrk apache2-utils apache2-dev mariadb-server docker.io; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
        log "installing $p"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    log "autoreconf"; autoreconf -fi >/dev/null 2>&1
fi
mkdir -p "$B/bench"
if [ ! -f "$B/Makefile" ]; then
    log "configure $B (plain, -O2)"
    (cd "$B" && CFLAGS="-O2 -g" "$TOP/configure" --enable-werror >configure.out 2>&1) || { cat "$B/configure.out"; exit 1; }
fi
log "make in $B"
make -C "$B" -j"$(nproc)" >/dev/null
grep -q -- "^SAN_CFLAGS = -fsanitize" "$B/Makefile" && { log "$B was configured with sanitizers: use a plain build dir"; exit 1; }
log "mod_trivial (apxs) and socketload"
cp bench/mod_trivial.c "$B/bench/mod_trivial.c"
(cd "$B/bench" && apxs -c -Wc,-O2 mod_trivial.c >/dev/null 2>&1 && cp .libs/mod_trivial.so mod_trivial.so)
gcc -O2 -std=c99 -Wall -Wextra -Werror -pthread -o "$B/bench/socketload" bench/socketload.c
if [ "${1:-}" = --only-webhook ]; then   # reconcile: the webhook intake benchmark alone (issue 14)
    shift
    exec /usr/bin/python3 bench/webhook_intake.py --build "$TOP/$B" "$@"
fi
exec /usr/bin/python3 bench/bench.py --build "$TOP/$B" "$@"
