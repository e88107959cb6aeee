"""Scale of person resolution: a full run over N records, then 10k new ones incrementally.

What it measures: the resolution functions a run calls, fed in memory (the store's reads
and writes are not timed; `tests/test_resolve.py` covers them for correctness):
  full         features (`vectorized.build_index`: code columns), candidates and scoring
               with a model trained on the data (`vectorized.score_index`, arrays), clustering
               and ids (`components.cluster_scored`, `entity_ids`), and a golden record per
               entity (`golden_record`): what `resolve_type` plus `write_region` compute;
  incremental  rebuilding the blocking index from stored features (`index_from_features`),
               adding the new records, `grow_region` with the full run's model, `cluster`,
               ids and golden records for the touched region: what an incremental run computes.
Records come from `bench_persons.person_records` (four sources, noise, hard negatives),
generated once and cached as a pickle in the temp folder (generation is not timed), or
with `--input FILE` from a labelled person file (CSV or Parquet; its columns are in
`bench/person_file.py`: `unique_id`, `cluster` = the true person, `first_name`, `surname`,
`dob`, `ssn`, `postcode`, `address`, `city`), matched with `--settings` (default
`bench/english_match_settings.yaml`); then the pairwise P/R/F1 of the full run and of the
incremental result are printed too.  The last `--new` rows are the incremental batch.
Each stage prints wall/CPU seconds (CPU of this process and its finished workers), and
the load average is printed.  Peak memory is the process's max RSS, records included.

`--store N` instead runs `resolve_all` end to end on a SQLite store of N of those records.

Usage: `python bench/bench_resolve_scale.py [--records 1000000] [--new 10000] [--store N]
[--input FILE [--settings YAML]]`.
"""
from __future__ import annotations

import argparse
import gc
import os
import pickle
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_persons import person_records  # noqa: E402

from munihub.resolve import clustering, components, match, vectorized  # noqa: E402
from munihub.resolve.conflicts import conflict_of  # noqa: E402
from munihub.resolve.golden import golden_record  # noqa: E402


def records_for(n: int, seed: int) -> list[dict]:
    """About `n` person records (cached): people = n / 2.6 copies each on average."""
    cache = Path(tempfile.gettempdir()) / f"munihub-bench-persons-{n}-{seed}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    records, _ = person_records(int(n / 2.6 / 1.1), seed)
    cache.write_bytes(pickle.dumps(records, protocol=5))
    return records


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


class Clock:
    """Wall and CPU seconds per stage: on a shared machine the CPU figure is what the stage
    needs on a core of its own (wall minus waiting for other jobs)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float, float]] = []
        self.t, self.c = time.perf_counter(), self.cpu()

    @staticmethod
    def cpu() -> float:
        """This process's CPU seconds plus its finished workers' (scoring forks them)."""
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), self.cpu()
        self.marks.append((name, now - self.t, cpu - self.c))
        self.t, self.c = now, cpu

    def report(self, title: str) -> float:
        wall, cpu = sum(m[1] for m in self.marks), sum(m[2] for m in self.marks)
        print(f"{title}: wall {wall:.1f} s, cpu {cpu:.1f} s  ("
              + ", ".join(f"{n} {w:.1f}/{c:.1f}" for n, w, c in self.marks) + ")")
        return wall


def goldens(records: dict[str, dict], ids: dict[str, str], refs) -> int:
    by_entity: dict[str, list[dict]] = defaultdict(list)
    for ref in refs:
        by_entity[ids[ref]].append(records[ref])
    for members in by_entity.values():
        golden_record("person", members, {})
    return len(by_entity)


def pairwise(truth: dict, ids: dict) -> str:
    from collections import Counter
    from math import comb

    both = sum(comb(n, 2) for n in Counter((ids[r], t) for r, t in truth.items()).values())
    pred = sum(comb(n, 2) for n in Counter(ids[r] for r in truth).values())
    true = sum(comb(n, 2) for n in Counter(truth.values()).values())
    p, r = both / max(pred, 1), both / max(true, 1)
    return f"pairwise P {p:.4f} R {r:.4f} F1 {2 * p * r / max(p + r, 1e-12):.4f}"


def full_run(records: list[dict], settings: dict | None = None) -> tuple[dict, dict, dict]:
    conf = match.settings_for("person", settings)
    clock = Clock()
    slot = vectorized.build_index(records, "person", settings)
    clock.lap("features")
    scored, model = vectorized.score_index(slot, conf, None)
    clock.lap(f"candidates+training+scoring ({len(scored['left'])} pairs >= review)")
    refs = [r["ref"] for r in records]
    label = components.cluster_scored(scored, conf["match"], (), conflict_of(slot["features"], conf))
    ids = components.entity_ids(scored["refs"], label, {}, "person")
    clock.lap("cluster+ids")
    n = goldens({r["ref"]: r for r in records}, ids, refs)
    clock.lap(f"golden ({n} entities)")
    clock.report(f"full run, {len(records)} records, {vectorized.workers()} cores")
    return slot, ids, model


def incremental_run(old: list[dict], new: list[dict], slot: dict, ids: dict, model: dict,
                    settings: dict | None = None) -> dict:
    conf = match.settings_for("person", settings)
    stored = dict(slot["features"])  # as a store run reads them back (not timed: nor is that)
    clock = Clock()
    slot = match.index_from_features(stored, slot["sources"], conf)
    clock.lap("index from stored features")
    match.build_index(new, settings, {"person": slot})
    members_of: dict[str, list[str]] = defaultdict(list)
    for ref, eid in ids.items():
        members_of[eid].append(ref)
    clock.lap("new features + entity map")
    region, pairs = match.grow_region([r["ref"] for r in new], slot, conf, model, ids, members_of)
    clusters = clustering.cluster(region, pairs, conf["match"], (), conflict_of(slot["features"], conf))
    new_ids = clustering.assign_entity_ids(clusters, ids, "person")
    clock.lap(f"region ({len(region)} refs, {len(pairs)} pairs)")
    records = {r["ref"]: r for r in old}
    records.update((r["ref"], r) for r in new)
    n = goldens(records, new_ids, region)
    clock.lap(f"golden ({n} entities)")
    clock.report(f"incremental: {len(new)} new against {len(old)}")
    return {**ids, **new_ids}


def store_run(records: list[dict], new: int) -> None:
    """`resolve_all` end to end on a SQLite store: full over the old rows, then `new` rows
    incrementally (store reads and writes included).  Each run is its own process, as an
    Airflow task is, so its peak memory is the resolution's, not this script's copy of the
    records."""
    import datetime as dt
    import subprocess

    from munihub import store

    folder = Path(tempfile.mkdtemp(prefix="munihub-bench-store-"))
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)

    def publish(batch: list[dict], when: dt.datetime, load_id: str) -> None:
        rows = [{"source": r["source"], "source_key": r["ref"].split("|", 1)[1], "entity_type": "person",
                 "record": r["fields"], "record_hash": store.record_hash(r["fields"]),
                 "first_load_id": load_id, "load_id": load_id, "updated_at": when} for r in batch]
        with engine.begin() as conn:
            for i in range(0, len(rows), 10_000):
                conn.execute(store.source_rows.insert(), rows[i:i + 10_000])

    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    publish(records[:-new], t0, "L1")
    later = records[-new:]
    del records
    gc.collect()
    for label, batch in (("store full", None), ("store incremental", later)):
        if batch:
            publish(batch, t0 + dt.timedelta(hours=1), "L2")
        out = subprocess.run([sys.executable, __file__, "--resolve", url], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        print(f"{label}: {out.stdout.strip()}")
    engine.dispose()


def resolve_once(url: str) -> None:
    """One `resolve_all` on the store at `url`: wall/CPU seconds and this process's peak RSS."""
    from munihub import store
    from munihub.resolve.run import resolve_all

    engine = store.open_store(url)
    clock = Clock()
    summary = resolve_all(engine)
    clock.lap(f"{summary['mode']}, {summary['changed_records']} changed")
    clock.report(f"resolve_all on SQLite, {summary['records']} records")
    print(f"peak RSS {hwm_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}")


def hwm_mb() -> float:
    """This process's own peak RSS.  Not ru_maxrss: Linux carries that across exec, so a
    child started by a big parent would report the parent's size at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_mb()[0]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--store", type=int, default=0, metavar="N",
                    help="instead: resolve_all end to end on a SQLite store of N records")
    ap.add_argument("--input", type=Path, help="a labelled person file (CSV/Parquet, see bench/person_file.py)")
    ap.add_argument("--settings", type=Path, help="match settings YAML for --input "
                    "(default bench/english_match_settings.yaml)")
    ap.add_argument("--resolve", metavar="URL", help=argparse.SUPPRESS)  # one store run (see store_run)
    args = ap.parse_args(argv)
    if args.resolve:
        return resolve_once(args.resolve)
    t = time.perf_counter()
    settings, truth = None, None
    if args.input:
        from person_file import read_records, read_rows
        from person_file import settings as read_settings
        records = read_records(args.input)
        truth = {f"persons|{r['unique_id']}": r["cluster"] for r in read_rows(args.input)}
        settings = read_settings(args.settings or Path(__file__).resolve().parent / "english_match_settings.yaml")
    else:
        records = records_for(args.records, args.seed)
    print(f"{len(records)} records ready in {time.perf_counter() - t:.1f} s (generation/cache/reading, "
          "not timed below)")
    if args.store:
        store_run(records[:args.store], min(args.new, args.store // 10))
        return
    old, new = records[:-args.new], records[-args.new:]
    gc.disable()  # as resolve_all does while it resolves
    slot, ids, model = full_run(old, settings)
    own, kids = peak_mb()
    print(f"peak RSS after full run: {own:.0f} MB (largest worker {kids:.0f} MB); "
          f"load average {os.getloadavg()[0]:.1f}")
    if truth:
        print(f"full run: {pairwise({r['ref']: truth[r['ref']] for r in old}, ids)}")
    ids = incremental_run(old, new, slot, ids, model, settings)
    if truth:
        print(f"after the incremental run: {pairwise(truth, ids)}")
    own, kids = peak_mb()
    print(f"peak RSS: {own:.0f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
