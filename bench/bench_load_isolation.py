"""Load isolation: N quiet sources synced alone, then beside one source flooding 100x rows.

    .venv/bin/python bench/bench_load_isolation.py [--sources 100] [--slots N] [--rounds 1]

The deployment model of docs/airflow.md, dispatched by tests/faults/slotrunner.py: `--slots`
worker slots (default: the LocalExecutor parallelism `munihub.airflow.home` sets, one per
core), each task (extract_and_stage, check_load, publish_load) in a fresh process, one pool
per source, the flood in a pool of one slot and queued first.  Quiet sources have 500 rows,
the flood 50,000 (slotrunner.QUIET_ROWS, FLOOD_FACTOR); the store is PostgreSQL on 127.0.0.1:5432 (a throwaway database per run).

Prints, per quiet source, its own duration (the wall time of its three tasks) median and p90
alone vs beside the flood, and their ratio (target: within 10 %); the same for CPU time (what
the tasks did, not how long they waited for a core); quiet tasks that ran while a flood task
ran vs those of the same stage that did not, in the same run (no drift of the machine between
runs); and peak store connections vs the pool caps.  With `--rounds` > 1 the runs alternate
and the round with the lowest median counts.  `--slots` above the core count shows what
isolation looks like without slots (everything at once).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "faults"))
PG_ADMIN = os.environ.get("MUNIHUB_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TARGET = 1.10
CONNECTIONS_PER_TASK, POOL_CAP = 2, 5 + 10  # a stage holds <= 2; SQLAlchemy's default cap per process


def _run(admin: sa.Engine, tmp: Path, label: str, n: int, flood: bool, slots: int):
    """One measured run on a fresh store database: (run, peak connections, load average before, after)."""
    import slotrunner
    from munihub import store

    name = f"munihub_biso_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        store.open_store(url).dispose()  # migrated before the clock starts
        before = os.getloadavg()[0]
        run, peak = slotrunner.measured_run(url, tmp / label, n, flood, slots)
        after = os.getloadavg()[0]
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if run.failed():
        raise SystemExit(f"{label}: {len(run.failed())} task(s) failed, first: {run.failed()[0].error}")
    print(f"{label}: {len(run.sources())} sources in {run.wall:.1f} s wall, load average {before:.2f} -> {after:.2f}",
          flush=True)
    return run, peak, before, after


def _others(run) -> float:
    """CPU seconds the machine spent on work that was neither our tasks nor our store's server."""
    return max(0.0, run.machine_busy - sum(t.cpu for t in run.tasks) - run.store_cpu)


def _quiet(run) -> list[str]:
    import slotrunner
    return [s for s in run.sources() if s != slotrunner.FLOOD]


def _stats(values: list[float]) -> tuple[float, float]:
    import slotrunner
    return statistics.median(values), slotrunner.percentile(values, 90)


def _beside_vs_not(run) -> str:
    """Same run: quiet tasks overlapping a flood task vs the other quiet tasks of that stage."""
    import slotrunner

    near = {id(t) for t in slotrunner.overlapping(run, slotrunner.FLOOD)}
    parts = []
    for stage in slotrunner.STAGES:
        tasks = [t for t in run.tasks if t.stage == stage and t.source != slotrunner.FLOOD]
        a = [t.wall for t in tasks if id(t) in near]
        b = [t.wall for t in tasks if id(t) not in near]
        if a and b:
            ma, mb = statistics.median(a), statistics.median(b)
            parts.append(f"{stage} {ma:.2f} s ({len(a)}) vs {mb:.2f} s ({len(b)}): {ma / mb:.2f}x")
        else:
            parts.append(f"{stage}: {len(a)} beside, {len(b)} not (no comparison)")
    return "; ".join(parts)


def main() -> None:
    from munihub.airflow import home as airflow_home

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", type=int, default=100, help="quiet sources (the flood is one more)")
    p.add_argument("--slots", type=int, default=airflow_home.parallelism(),
                   help="worker slots (default: the LocalExecutor parallelism munihub.airflow.home sets)")
    p.add_argument("--rounds", type=int, default=1, help="alternate quiet and flood runs this many times")
    p.add_argument("--json", type=Path, help="also write every task's times here (source, stage, start, wall, CPU)")
    args = p.parse_args()
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    quiet_runs, flood_runs = [], []
    with tempfile.TemporaryDirectory(prefix="munihub-iso-") as tmp:
        for r in range(args.rounds):
            quiet_runs.append(_run(admin, Path(tmp), f"quiet-{r + 1}", args.sources, False, args.slots))
            flood_runs.append(_run(admin, Path(tmp), f"flood-{r + 1}", args.sources, True, args.slots))
    admin.dispose()
    if args.json:
        args.json.write_text(json.dumps([[{"run": f"{kind}-{i + 1}", "source": t.source, "stage": t.stage,
                                           "start": t.started, "wall": t.wall, "cpu": t.cpu} for t in r[0].tasks]
                                         for kind, runs in (("quiet", quiet_runs), ("flood", flood_runs))
                                         for i, r in enumerate(runs)], indent=1), encoding="utf-8")

    def best(runs):  # the round least disturbed by the rest of the machine
        return min(runs, key=lambda x: statistics.median([x[0].own(s) for s in _quiet(x[0])]))

    (quiet, peak_q, *load_q), (loud, peak_l, *load_l) = best(quiet_runs), best(flood_runs)
    import slotrunner
    alone, beside = [quiet.own(s) for s in _quiet(quiet)], [loud.own(s) for s in _quiet(loud)]
    cpu_alone, cpu_beside = [quiet.cpu(s) for s in _quiet(quiet)], [loud.cpu(s) for s in _quiet(loud)]
    (m_a, p_a), (m_b, p_b) = _stats(alone), _stats(beside)
    (c_a, cp_a), (c_b, cp_b) = _stats(cpu_alone), _stats(cpu_beside)
    bound = CONNECTIONS_PER_TASK * args.slots + 1
    print(f"\nRESULT sources={args.sources}+1 flood ({slotrunner.QUIET_ROWS} / "
          f"{slotrunner.QUIET_ROWS * slotrunner.FLOOD_FACTOR} rows) slots={args.slots} rounds={args.rounds} "
          f"store=PostgreSQL cpus={os.cpu_count()}")
    print(f"  own duration per quiet source (wall of its 3 tasks): median {m_a:.2f} s alone, {m_b:.2f} s beside "
          f"the flood: {m_b / m_a:.3f}x; p90 {p_a:.2f} / {p_b:.2f} s: {p_b / p_a:.3f}x (target <= {TARGET:.2f}x: "
          f"{'met' if max(m_b / m_a, p_b / p_a) <= TARGET else 'MISSED'})")
    print(f"  CPU per quiet source: median {c_a:.2f} s alone, {c_b:.2f} s beside: {c_b / c_a:.3f}x; "
          f"p90 {cp_a:.2f} / {cp_b:.2f} s: {cp_b / cp_a:.3f}x")
    print(f"  same flood run, quiet tasks while a flood task ran vs not: {_beside_vs_not(loud)}")
    print(f"  flood: own duration {loud.own(slotrunner.FLOOD):.2f} s (CPU {loud.cpu(slotrunner.FLOOD):.2f} s); "
          f"run wall {quiet.wall:.1f} s quiet, {loud.wall:.1f} s with the flood; "
          f"most tasks at once {quiet.peak_running} / {loud.peak_running}")
    print(f"  peak store connections {peak_q} alone / {peak_l} with flood (sampler included); bound "
          f"{CONNECTIONS_PER_TASK} per slot + 1 = {bound}; pool caps {POOL_CAP} per process x {args.slots} "
          f"slots = {POOL_CAP * args.slots}")
    print(f"  load average (1 min) quiet {load_q[0]:.2f} -> {load_q[1]:.2f}, flood {load_l[0]:.2f} -> {load_l[1]:.2f}")
    for label, r in (("quiet", quiet), ("flood", loud)):
        print(f"  {label} run CPU: tasks {sum(t.cpu for t in r.tasks):.1f} s, store server {r.store_cpu:.1f} s, "
              f"rest of the machine {_others(r):.1f} s ({_others(r) / r.wall:.2f} cores busy with other work)")
    if args.rounds > 1:
        meds = [(statistics.median([q[0].own(s) for s in _quiet(q[0])]),
                 statistics.median([f[0].own(s) for s in _quiet(f[0])])) for q, f in zip(quiet_runs, flood_runs)]
        others = [(_others(q[0]) / q[0].wall, _others(f[0]) / f[0].wall) for q, f in zip(quiet_runs, flood_runs)]
        print("  every round, median alone / beside (other work, cores): " + ", ".join(
            f"{a:.2f} / {b:.2f} s ({oa:.2f} / {ob:.2f})" for (a, b), (oa, ob) in zip(meds, others)))


if __name__ == "__main__":
    main()
