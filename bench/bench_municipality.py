"""A generated municipality, synced in full then incrementally, with PostgreSQL as the store.

    .venv/bin/python bench/bench_municipality.py --sources 100 --rows 10000 --workers 2

Sources are the generator's mix (SQLite and PostgreSQL `sql` tables, REST, CSV and JSON Lines
drops).  The sync is the core pipeline (`sync_source` per source, `--workers` processes, no
Airflow), then one `consolidate`; then 1% of every source's rows change and everything is
synced and consolidated again.  Prints wall times, each sync phase's CPU and wall seconds (summed
over the workers' sources), the incremental share and peak RSS.  `--profile FILE` writes a
cProfile of the incremental consolidation (wall-clock timer, so time spent waiting on
PostgreSQL shows up under the driver's execute calls).  `--keep DIR` writes the city to DIR
and keeps it, and copies the store, as it stands right before the incremental consolidation,
to a database it names, so that step can be replayed and profiled again without the 10-minute
run before it (drop the database when done).
Needs PostgreSQL on 127.0.0.1:5432 (throwaway databases, dropped at the end).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("MUNIHUB_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _database(admin: sa.Engine, name: str) -> str:
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def _warm() -> None:
    """Pay each worker's one-off imports (great-expectations ~5 s) before the clock starts."""
    import munihub.pipeline  # noqa: F401
    try:
        import great_expectations  # noqa: F401
    except ImportError:
        pass


PHASES = ("extract+stage", "checks", "publish")


def _sync_one(contract_id: str) -> tuple[str, str, int, int, dict[str, tuple[float, float]]]:
    """`sync_source`, stage by stage: (id, outcome, rows read, rows new or changed, phase -> (cpu s, wall s))."""
    from munihub.errors import MunihubError
    from munihub.pipeline.sync import check_load, extract_and_stage, publish_load
    phases: dict[str, tuple[float, float]] = {}

    def timed(name, fn, *args):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return fn(*args)
        finally:
            phases[name] = (time.process_time() - cpu, time.perf_counter() - wall)
    try:
        load_id = timed("extract+stage", extract_and_stage, contract_id)
        timed("checks", check_load, load_id)
        r = timed("publish", publish_load, load_id)
        return contract_id, "published", r["rows_in"], r["rows_new"] + r["rows_changed"], phases
    except MunihubError as exc:
        return contract_id, f"failed: {str(exc)[:200]}", 0, 0, phases


def sync_all(ids: list[str], pool: ProcessPoolExecutor) -> tuple[float, list]:
    started = time.perf_counter()
    results = list(pool.map(_sync_one, ids))
    return time.perf_counter() - started, results


def phase_lines(results: list) -> str:
    """Per-phase CPU and wall seconds summed over the sources (and per source), from the workers."""
    n = max(len(results), 1)
    parts = []
    for name in PHASES:
        cpu = sum(r[4].get(name, (0.0, 0.0))[0] for r in results)
        wall = sum(r[4].get(name, (0.0, 0.0))[1] for r in results)
        parts.append(f"{name} cpu {cpu:.1f} s / wall {wall:.1f} s ({1000 * cpu / n:.0f} / {1000 * wall / n:.0f} ms per source)")
    return "    " + "\n    ".join(parts)


def consolidate(profile: str | None = None) -> float:
    from munihub.pipeline.consolidate import consolidate as run
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        import cProfile
        with cProfile.Profile() as prof:
            result = run()
        prof.dump_stats(profile)
    else:
        result = run()
    wall = time.perf_counter() - started
    seconds = " + ".join(f"{k} {v:.1f} s" for k, v in (result.get("seconds") or {}).items())
    print(f"    consolidate: cpu {time.process_time() - cpu:.1f} s, wall {wall:.1f} s ({seconds})", flush=True)
    return wall


def snapshot(admin: sa.Engine, store_db: str, name: str) -> None:
    """A copy of the store database (PostgreSQL copies from a template with no one connected)."""
    from munihub import store
    store.engine_for().dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{store_db}"'))
    print(f"store before the incremental consolidation kept as database {name}", flush=True)


def peak_mb() -> tuple[float, float]:
    """(this process, largest child) peak RSS in MB (Linux reports KB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", type=int, default=100)
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--change", type=float, default=0.01, help="share of rows changed before the re-sync")
    p.add_argument("--copies", type=float, default=5.0, help="subsystems a citizen appears in, on average")
    p.add_argument("--profile", help="write a cProfile of the incremental consolidation to this file")
    p.add_argument("--keep", type=Path, help="keep the city here and a copy of the store before the "
                                             "incremental consolidation (its database name is printed)")
    args = p.parse_args()
    from munihub.testing import municipality, municipality_server as server
    from munihub import store

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:8]
    store_url, src_url = _database(admin, f"munihub_bstore_{tag}"), _database(admin, f"munihub_bsrc_{tag}")
    urls: dict[str, str] = {}
    try:
        folder = (contextlib.nullcontext(str(args.keep)) if args.keep
                  else tempfile.TemporaryDirectory(prefix="munihub-city-"))
        with folder as tmp:
            out = Path(tmp) / "city"
            t0 = time.perf_counter()
            manifest = municipality.generate(out, args.sources, args.rows, pg_url=src_url, copies=args.copies)
            kinds: dict[str, int] = {}
            for s in manifest["sources"]:
                kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
            print(f"generated {args.sources} sources x {args.rows} rows ({kinds}), a citizen in ~{args.copies:g} "
                  f"of them, in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            urls = server.serve_all(out)
            os.environ.update({**municipality.environment(out, src_url), **urls, "MUNIHUB_HOME": str(Path(tmp) / "home"),
                               "MUNIHUB_STORE_URL": store_url, "MUNIHUB_SCHEMAS": str(ROOT / "schemas")})
            store.engine_for().dispose()   # migrate the store once, before the workers race to
            store.forget_engines()    # forked workers must not share pooled connections
            ids = [s["id"] for s in manifest["sources"]]
            pool = ProcessPoolExecutor(max_workers=args.workers, initializer=_warm)
            t0 = time.perf_counter()
            list(pool.map(time.sleep, [0.5] * args.workers))
            print(f"{args.workers} workers started and warmed in {time.perf_counter() - t0:.1f} s "
                  f"(one-off imports, not counted below)", flush=True)

            full_sync, results = sync_all(ids, pool)
            failed = [r for r in results if r[1] != "published"]
            read = sum(r[2] for r in results)
            print(f"full sync: {full_sync:.1f} s, {read} rows read ({read / full_sync:.0f} rows/s), "
                  f"{len(failed)} failed {[f[:2] for f in failed[:2]]}", flush=True)
            print(phase_lines(results), flush=True)
            full_cons = consolidate()
            print(f"full consolidation: {full_cons:.1f} s", flush=True)

            changed = municipality.change_rows(out, args.change, pg_url=src_url)
            inc_sync, results = sync_all(ids, pool)
            pool.shutdown()
            inc_read = sum(r[2] for r in results)
            print(f"incremental sync after {changed} changed rows: {inc_sync:.1f} s, {inc_read} rows read, "
                  f"{sum(r[3] for r in results)} published as new/changed", flush=True)
            print(phase_lines(results), flush=True)
            if args.keep:
                snapshot(admin, f"munihub_bstore_{tag}", f"munihub_bsnap_{tag}")
            inc_cons = consolidate(args.profile)
            print(f"incremental consolidation: {inc_cons:.1f} s", flush=True)
            full, inc = full_sync + full_cons, inc_sync + inc_cons
            me, child = peak_mb()
            print(f"\nRESULT sources={args.sources} rows={args.rows} workers={args.workers} store=PostgreSQL")
            print(f"  full: sync {full_sync:.1f} s + consolidate {full_cons:.1f} s = {full:.1f} s")
            print(f"  incremental ({args.change:.0%} changed): sync {inc_sync:.1f} s + consolidate {inc_cons:.1f} s "
                  f"= {inc:.1f} s = {100 * inc / full:.1f}% of full (sync alone {100 * inc_sync / full_sync:.1f}%)")
            print(f"  peak RSS: main process (consolidate) {me:.0f} MB, largest sync worker {child:.0f} MB")
    finally:
        server.shutdown_all(urls)
        store.forget_engines()
        with admin.connect() as conn:
            for name in (f"munihub_bstore_{tag}", f"munihub_bsrc_{tag}"):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
