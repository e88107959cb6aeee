"""Dataset checks on big loads: time and peak memory of `run_checks` on simple records.

Each measurement runs in a fresh process (peak RSS is per process): build N records of ten
fields (one nested), then run the checks a permits-like contract compiles to (null share,
allowed values, pattern, key uniqueness, drift, new values, emptied fields, freshness,
quarantine share).  Prints the GE import, the records' own RSS, run_checks wall time and
the peak RSS above the records, with and without Data Docs; `--flattened` also shows what
a frame of the whole flattened records (the earlier approach) would take.

    .venv/bin/python bench/bench_quality.py [--sizes 100000 1000000] [--docs-at 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from munihub.contracts.schemas import flatten

STATUSES = ["issued", "expired", "revoked"]


def make_records(n: int) -> list[dict]:
    return [{"permit_no": f"P-{i}", "national_id": f"{i:010d}", "owner_name": None if i % 17 == 0 else f"مالک {i % 5000}",
             "district": f"منطقه {i % 13}", "floors": i % 9 + 1, "status": STATUSES[i % 3],
             "issued_on": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "area_m2": 100.5 + i % 300,
             "kind": "residential", "address": {"city": "مشهد", "street": f"خیابان {i % 400}"}}
            for i in range(n)]


def specs() -> list[dict]:
    def s(metric, field=None, op="mustBeLessOrEqualTo", threshold=0, unit="rows", severity="warning", **args):
        return {"name": f"{metric} {field}", "field": field, "metric": metric, "operator": op,
                "threshold": threshold, "unit": unit, "severity": severity, "arguments": args}
    return [s("rowCount", op="mustBeGreaterThan"), s("rowCountDrift", threshold=45, unit="percent"),
            s("nullValues", "owner_name", threshold=20, unit="percent"),
            s("invalidValues", "status", op="mustBe", validValues=STATUSES),
            s("invalidValues", "permit_no", op="mustBe", pattern=r"^P-[0-9]+$"),
            s("duplicateValues", "permit_no", op="mustBe"),
            s("nullShareDrift", "owner_name", threshold=30, unit="points"),
            s("newValues", "status", threshold=10, unit="percent"),
            s("freshness", "issued_on", threshold=86400 * 3650, unit="seconds"),
            s("quarantineShare", threshold=10, unit="percent"),
            s("emptiedFields", op="mustBe", unit="fields",
              fields=["permit_no", "national_id", "owner_name", "district", "floors", "status", "issued_on"])]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n: int, docs: bool, flattened: bool) -> dict:
    """One measurement in this process: GE imported first so its memory is not counted as the checks'."""
    t = time.perf_counter()
    from munihub.ingest import quality, quality_docs
    quality_docs.gx()
    import_s = time.perf_counter() - t
    records = make_records(n)
    base = rss_mb()
    out = {"rows": n, "docs": docs, "ge_import_s": round(import_s, 2), "records_rss_mb": round(base, 1)}
    if flattened:
        import pandas as pd
        t = time.perf_counter()
        frame = pd.DataFrame([flatten(r) for r in records])  # noqa: F841 - measured, not used
        out.update(flattened_s=round(time.perf_counter() - t, 2), flattened_peak_above_mb=round(peak_mb() - base, 1))
        return out
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        results = quality.run_checks(specs(), records, previous_rows=n, quarantined=n // 50,
                                     data_docs_dir=os.path.join(tmp, "ds") if docs else None)
        out["run_checks_s"] = round(time.perf_counter() - t, 2)
    out["peak_above_records_mb"] = round(peak_mb() - base, 1)
    out["statuses"] = sorted({r["status"] for r in results})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--docs-at", type=int, default=100_000, help="also measure with Data Docs at this size")
    ap.add_argument("--flattened", action="store_true", help="also measure the whole flattened frame")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1] == "1", args.child[2] == "1")))
        return
    runs = [(n, False, False) for n in args.sizes]
    if args.docs_at:
        runs.append((args.docs_at, True, False))
    if args.flattened:
        runs += [(n, False, True) for n in args.sizes]
    for n, docs, flat in runs:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), str(int(docs)), str(int(flat))],
                             capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
