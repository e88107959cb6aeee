"""End-to-end benchmark: the demo city scaled up, every stage timed, peak memory.

    .venv/bin/python bench/bench_e2e.py --people 300000      # ~1M source records
    .venv/bin/python bench/bench_e2e.py --people 30000 --store-url postgresql+psycopg2://…

Prints records/s for each stage (extract+map+validate+stage, checks, publish, resolve) summed
over the eight demo sources, and the process's peak RSS.  The core runs directly (no Airflow):
Airflow adds a fixed ~10 s per run, measured separately in bench_dag_parse.py.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=300_000)
    ap.add_argument("--store-url")
    ap.add_argument("--batch-size", type=int, default=5000)
    args = ap.parse_args()

    from demo.run import prepare
    home = Path(tempfile.mkdtemp(prefix="munihub-bench-"))
    t0 = time.perf_counter()
    prepare(home, True, args.people, 7, args.store_url)
    build_s = time.perf_counter() - t0

    import os

    os.environ["MUNIHUB_BATCH_SIZE"] = str(args.batch_size)
    from munihub import pipeline
    from munihub.config import load_settings
    from munihub.contracts import load_all

    settings = load_settings()
    contracts, _ = load_all(settings.contracts_dir)
    totals = {"extract+stage": 0.0, "checks": 0.0, "publish": 0.0}
    rows = 0
    per_source = []
    for c in contracts:
        t = time.perf_counter()
        load_id = pipeline.extract_and_stage(c.id, settings)
        t1 = time.perf_counter()
        pipeline.check_load(load_id, settings)
        t2 = time.perf_counter()
        result = pipeline.publish_load(load_id, settings)
        t3 = time.perf_counter()
        totals["extract+stage"] += t1 - t
        totals["checks"] += t2 - t1
        totals["publish"] += t3 - t2
        rows += result["rows_in"]
        per_source.append((c.id, result["rows_in"], t3 - t))
    t = time.perf_counter()
    summary = pipeline.consolidate(settings)
    resolve_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"people={args.people}  source records={rows}  store={settings.store_url.split(':')[0]}  "
          f"batch={args.batch_size}  (building the sources took {build_s:.1f} s)")
    for stage, secs in totals.items():
        print(f"  {stage:15s} {secs:8.1f} s  {rows / secs:10.0f} records/s")
    print(f"  {'resolve+report':15s} {resolve_s:8.1f} s  {summary['records'] / resolve_s:10.0f} match records/s "
          f"({summary['records']} records -> {summary['entities']} entities)")
    total = sum(totals.values()) + resolve_s
    print(f"  {'total':15s} {total:8.1f} s  {rows / total:10.0f} records/s end to end")
    print(f"  peak RSS {peak_mb:.0f} MB")
    for sid, n, secs in per_source:
        print(f"    {sid:24s} {n:9d} rows {secs:7.1f} s")


if __name__ == "__main__":
    main()
