#!/usr/bin/env python3
"""One sysbench run's report (stdin) as a JSON line in benches/run.sh's raw form.
usage: report.py SERVER REP KEY RC CPU_TICKS_BEFORE CPU_TICKS_AFTER CLK_TCK"""
import json, re, sys

server, rep, key, rc, c0, c1, tck = sys.argv[1:8]
out = sys.stdin.read()


def num(pattern):
    m = re.search(pattern, out, re.M)
    return float(m.group(1)) if m else None


trx = num(r"^\s*transactions:\s+(\d+)")
r = {
    "workload": "sysbench",
    "label": f"{server}|rep{rep}|{key}",
    "transactions": int(trx) if trx is not None else None,
    "ops_per_sec": num(r"^\s*transactions:\s+\d+\s+\(([\d.]+) per sec\.\)"),
    "qps": num(r"^\s*queries:\s+\d+\s+\(([\d.]+) per sec\.\)"),
    "avg_ms": num(r"^\s*avg:\s+([\d.]+)"),
    "p95_ms": num(r"^\s*95th percentile:\s+([\d.]+)"),
    "errors": num(r"^\s*ignored errors:\s+(\d+)"),
    "reconnects": num(r"^\s*reconnects:\s+(\d+)"),
}
if c0 and c1 and trx:
    r["server_cpu_us_per_op"] = (int(c1) - int(c0)) / int(tck) * 1e6 / trx
fatal = [l for l in out.splitlines() if "FATAL" in l or "ALERT" in l]
r["ok"] = rc == "0" and bool(trx) and r["errors"] == 0 and r["reconnects"] == 0 and not fatal
if not r["ok"]:
    r["why"] = f"rc={rc} " + " ".join(fatal[:3])[:300]
print(json.dumps(r))
