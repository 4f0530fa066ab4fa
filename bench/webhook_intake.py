#!/usr/bin/env python3
"""Webhook intake benchmark (issue 14): POST /webhooks/portone with a distinct event on every
request (so each one is a new INSERT, never a duplicate) against the trivial handler, interleaved
in the same run on the same httpd (bench/bench.py's stack: plain optimised build, the fake
PortOne, MariaDB). The reconciler applies the events in the background meanwhile (they name
payments the fake does not know: each costs one lookup and ends `unknown_payment`), as it would
under a burst from PortOne. Prints a Markdown table (median req/s and p99 of wrk -t2 -c8 per
scenario) and, with --json, the raw runs. bench/run.sh builds what it needs; run it as

  bench/run.sh --only-webhook        (or: python3 bench/webhook_intake.py --build build-bench)
"""
import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BenchStack, machine, wrk  # noqa: E402
from harness import log  # noqa: E402

LUA = """-- distinct webhook events: thread id, request counter and a per-run tag make every body new
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local body = string.format('{"imp_uid":"imp_%s_%d_%d","merchant_uid":"bench-%s-%d-%d","status":"paid"}',
                             "%TAG%", tid, counter, "%TAG%", tid, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "3")))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "5")))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="dpbench-wh-", dir="/tmp")
    st = BenchStack(os.path.abspath(root), os.path.abspath(args.build))
    runs = {"trivial": [], "webhook": []}
    try:
        m = machine()
        st.start()
        base = f"http://127.0.0.1:{st.port}"
        wrk(base + "/trivial", 1)
        for rep in range(args.reps):
            script = os.path.join(root, f"webhook{rep}.lua")
            with open(script, "w") as f:
                f.write(LUA.replace("%TAG%", secrets.token_hex(4)))
            for name, fn in [("trivial", lambda: wrk(base + "/trivial", args.duration)),
                             ("webhook", lambda: wrk(base + "/api/v1/webhooks/portone", args.duration,
                                                     (), script))]:
                r = fn()
                runs[name].append(r)
                log(f"bench: run {rep + 1} {name}: {r['rps']:.0f} req/s, p99 {r['p99_ms']} ms"
                    + (f" ({r['non2xx']} non-2xx, {r['sock_errors']} socket errors)"
                       if r["non2xx"] or r["sock_errors"] else ""))
        rows = st.mysql_root("SELECT outcome, COUNT(*) FROM webhook_events GROUP BY outcome", "dockpay")
        recorded = sum(r["requests"] - r["non2xx"] for r in runs["webhook"])
        # let the background finish, then count what it did
        deadline = time.time() + 120
        while time.time() < deadline:
            left = st.mysql_root("SELECT COUNT(*) FROM webhook_events WHERE outcome IN ('received', 'processing')",
                                 "dockpay").strip()
            if left == "0":
                break
            time.sleep(1)
        rows_after = st.mysql_root("SELECT outcome, COUNT(*) FROM webhook_events GROUP BY outcome", "dockpay")
    finally:
        st.teardown()
    med = {n: statistics.median(r["rps"] for r in rs) for n, rs in runs.items()}
    p99 = {n: statistics.median(r["p99_ms"] for r in rs if r["p99_ms"] is not None) for n, rs in runs.items()}
    print(f"machine: {m.get('cpu', '?')}, {m.get('nproc', '?')} CPUs, load {' '.join(m.get('load', []))}")
    print("| Scenario | req/s (median of %d × %d s) | p99 |" % (args.reps, args.duration))
    print("|---|---:|---:|")
    print(f"| trivial handler (mod_trivial) | {med['trivial']:,.0f} | {p99['trivial']:.2f} ms |")
    print(f"| `POST /webhooks/portone`, a distinct event per request | {med['webhook']:,.0f} | "
          f"{p99['webhook']:.2f} ms |")
    print(f"ratio webhook/trivial: {med['webhook'] / med['trivial']:.2f}")
    print(f"events answered 200: {recorded:,}; outcomes right after the runs:\n{rows}"
          f"outcomes once the background caught up:\n{rows_after}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": {n: [{k: v for k, v in r.items() if k != "raw"} for r in rs]
                                for n, rs in runs.items()}, "median": med, "p99": p99}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
