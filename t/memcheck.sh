#!/usr/bin/env bash
# t/memcheck.sh [PYTEST ARGS]: `./dev memcheck`. Builds mod_dockpay without sanitizers at -O0 -g
# (build-memcheck, or $DP_MEMCHECK_BUILD), runs the integration suite against ONE httpd process
# (apache2 -X) under valgrind memcheck (t/harness.py with DP_VALGRIND=1), then reads valgrind's
# reports and prints each LEAK SUMMARY.
#   Fails when memory is "definitely lost" in a stack with a frame of mod_dockpay (the module, its
#   handlers or lib/), or when valgrind reports a memory error (invalid read/write, uninitialised
#   jump) with such a frame. Suppressions (t/valgrind.supp) cover only process-lifetime globals of
#   httpd, APR, libcurl, OpenSSL and the MariaDB client, each with its reason.
#   Test failures under valgrind (it is ~20x slower: timing asserts) are reported but do not
#   decide the result; ./dev test is the functional gate.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${DP_MEMCHECK_BUILD:-build-memcheck}
log() { printf '[memcheck] %s\n' "$*" >&2; }

command -v valgrind >/dev/null || { log "valgrind is missing: run ./dev test once (it installs the packages)"; exit 2; }
"$TOP/dev" build "$BUILD" CFLAGS="-O0 -g" --enable-werror

VDIR="$TOP/$BUILD/valgrind"
rm -rf "$VDIR"; mkdir -p "$VDIR"; chmod 1777 "$VDIR"  # httpd forks children as www-data
log "integration suite against apache2 -X under valgrind (slow)"
prc=0
DP_VALGRIND=1 DP_VALGRIND_DIR="$VDIR" /usr/bin/python3 t/harness.py test --build "$TOP/$BUILD" -- "$@" || prc=$?
log "pytest exit status under valgrind: $prc (informational)"

exec /usr/bin/python3 - "$VDIR" <<'PY'
import glob, re, sys
OURS = re.compile(r"mod_dockpay|libdockpay|\bdp_[a-z0-9_]+|dockpay_[a-z0-9_]+|/handlers/|/lib/[a-z]+/dp_")
logs = sorted(glob.glob(sys.argv[1] + "/vg.*.log"))
if not logs:
    print("[memcheck] no valgrind report found"); sys.exit(1)
bad, total_def = [], 0
for path in logs:
    text = open(path, errors="replace").read()
    m = re.search(r"LEAK SUMMARY:.*?(?=\n==\d+== \n|\Z)", text, re.S)
    print(f"==== {path}")
    print(m.group(0) if m else "(no LEAK SUMMARY: did the process exit cleanly?)")
    d = re.search(r"definitely lost: ([\d,]+) bytes", text)
    total_def += int(d.group(1).replace(",", "")) if d else 0
    # one record = a header line and its stack, up to the next blank ==pid== line
    for rec in re.split(r"\n==\d+== \n", text):
        head = rec.strip().splitlines()[0] if rec.strip() else ""
        is_leak = "definitely lost in loss record" in rec
        is_error = re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free|overlap", rec)
        if (is_leak or is_error) and OURS.search(rec):
            bad.append((path, rec.strip()))
print(f"[memcheck] reports: {len(logs)}; definitely lost (all frames, after suppressions): {total_def} bytes")
if bad:
    for path, rec in bad[:20]:
        print(f"---- {path}\n{rec}")
    print(f"[memcheck] FAILED: {len(bad)} leak/error record(s) with mod_dockpay frames")
    sys.exit(1)
print("[memcheck] OK: 0 bytes definitely lost in mod_dockpay frames, no memory errors in them")
PY
