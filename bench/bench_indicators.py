"""Time every shipped indicator over a large consolidated store on PostgreSQL: a full
computation, then the incremental refresh after 1 % of the 137 requests changed.

The store is written directly (COPY), as consolidation would have left it: `requests` 137
requests in request groups of one to three (follow-ups), each naming one of `requests // 5`
citizens; `sources` person systems keeping those citizens (each in ~2.5 of them); inter-agency
requests and plan indicators.  Resolution is not run: what is timed is the indicators alone.
The changed 1 % are re-published requests (status and closing time moved, `updated_at` now).

    .venv/bin/python bench/bench_indicators.py --pg-url postgresql+psycopg2://USER@HOST/DB \
        [--requests 1000000] [--sources 100] [--again spread|latest --seed N]

The database named in --pg-url is used as it is (its munihub tables are emptied first).
`--again` reuses a database a run filled: one 1 % change and one refresh, timed by the wall
clock and by CPU (this process and its PostgreSQL backends, read from /proc on the same
machine), which a busy machine disturbs less; run two trees alternately on one database to
compare them (each refresh continues from what the other left).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import resource
import time

import sqlalchemy as sa

from munihub import store
from munihub.config import REPO_ROOT
from munihub.indicators import load_all, refresh

UTC = dt.timezone.utc
CATEGORIES = ["پسماند", "آسفالت", "روشنایی معابر", "فضای سبز", "سد معبر", "حمل و نقل", "آب‌های سطحی", "سایر"]
T0 = dt.datetime(2023, 3, 21, 8, 0)


def _copy(engine, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples; dicts become JSON) into `table` in chunks; the number written."""
    raw = engine.raw_connection()
    n = 0
    try:
        cur = raw.cursor()
        buf, writer = io.StringIO(), None
        for row in rows:
            if writer is None:
                writer = csv.writer(buf)
            writer.writerow([json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for v in row])
            n += 1
            if n % 100_000 == 0:
                buf.seek(0)
                cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH CSV", buf)
                buf, writer = io.StringIO(), None
        buf.seek(0)
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH CSV", buf)
        raw.commit()
    finally:
        raw.close()
    return n


def build(engine, requests: int, sources: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    people = max(requests // 5, 10)
    now = dt.datetime(2025, 3, 1, tzinfo=UTC)
    rows_cols = ["source", "source_key", "entity_type", "record", "record_hash", "first_load_id", "load_id",
                 "updated_at"]
    member_cols = ["source", "source_key", "entity_id", "entity_type", "rule", "assigned_at"]
    req_rows, members = [], []
    g = i = 0
    while i < requests:
        g += 1
        citizen, district = rng.randrange(people), f"منطقه {rng.randrange(1, 14)}"
        category = rng.choice(CATEGORIES)
        filed = T0 + dt.timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        for k in range(min(rng.choice((1, 1, 1, 2, 3)), requests - i)):
            at = filed + dt.timedelta(days=3 * k, hours=rng.randrange(24))
            rec = {"tracking_code": f"T{i:08d}", "national_id": f"{citizen:010d}", "category": category,
                   "district": district, "status": "ثبت شده", "filed_at": at.strftime("%Y-%m-%dT%H:%M:%S")}
            if rng.random() < 0.7:
                rec["status"] = "بسته شده"
                rec["closed_at"] = (at + dt.timedelta(hours=rng.randrange(1, 24 * 30))).strftime("%Y-%m-%dT%H:%M:%S")
            key = f"T{i:08d}"
            req_rows.append(("rc137.requests", key, "service_request", rec, key, "L1", "L1", now))
            members.append(("rc137.requests", key, f"G-{g:08d}", "service_request", "followup", now))
            members.append(("rc137.requests", key + "#person", f"P-{citizen:08d}", "person", "exact", now))
            i += 1
    held = [(f"s{s:03d}.persons", f"{c}", "person", {"national_id": f"{c:010d}"}, "h", "L1", "L1", now)
            for c in range(people) for s in rng.sample(range(sources), rng.choice((1, 2, 3, 4)))]
    members += [(src, key, f"P-{int(key):08d}", "person", "exact", now) for src, key, *_ in held]
    agencies = [f"MM-{a:02d}" for a in range(20)]
    inter = []
    for j in range(max(requests // 100, 10)):
        opened = dt.date(2023, 3, 21) + dt.timedelta(days=rng.randrange(700))
        rec = {"request_id": f"IA-{j:06d}", "from_agency": rng.choice(agencies), "to_agency": rng.choice(agencies),
               "status": "open", "opened_on": opened.isoformat(),
               "due_on": (opened + dt.timedelta(days=14)).isoformat()}
        if rng.random() < 0.6:
            rec.update(status="closed", closed_on=(opened + dt.timedelta(days=rng.randrange(1, 40))).isoformat())
        inter.append(("coordination.requests", rec["request_id"], "inter_agency_request", rec, "h", "L1", "L1", now))
    plan = [("planning.indicators", f"IND-{c:03d}|{y}-Q{q}", "indicator",
             {"indicator_code": f"IND-{c:03d}", "period": f"{y}-Q{q}", "target_value": 50.0,
              "measured_value": rng.uniform(0, 100)}, "h", "L1", "L1", now)
            for c in range(100) for y in (1402, 1403) for q in range(1, 5)]
    n_rows = _copy(engine, "source_rows", rows_cols, req_rows + held + inter + plan)
    n_members = _copy(engine, "entity_members", member_cols, members)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE source_rows, entity_members")
    return {"requests": requests, "groups": g, "people": people, "person_rows": len(held),
            "source_rows": n_rows, "members": n_members}


def change(engine, fraction: float, recent: bool, seed: int = 11) -> int:
    """Re-publish `fraction` of the 137 requests (closed now, stamped now): picked among all of
    them (the worst case: every month moves) or among the latest ones (`recent`: what a day's
    consolidation sees, the open requests of the last weeks being updated)."""
    t = store.source_rows
    now = dt.datetime.now(UTC)
    with engine.begin() as conn:
        q = sa.select(t.c.source_key).where(t.c.source == "rc137.requests").order_by(
            t.c.record["filed_at"].as_string().desc())
        keys = [k for (k,) in conn.execute(q)]
        n = int(len(keys) * fraction)
        pool = keys[:2 * n] if recent else keys  # recent: half of the latest 2 %, about two weeks
        picked = random.Random(seed).sample(pool, n)
        for part in store.chunks(sorted(picked)):
            conn.execute(t.update().where(t.c.source == "rc137.requests", t.c.source_key.in_(part)).values(
                record=sa.func.jsonb_set(sa.func.jsonb_set(t.c.record, "{status}", sa.literal('"بسته شده"')),
                                         "{closed_at}", sa.literal(json.dumps(now.strftime("%Y-%m-%dT%H:%M:%S")))),
                updated_at=now))
    return len(picked)


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local PostgreSQL backend has used, 0 once it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def again(engine, defs, as_of: dt.datetime, recent: bool, seed: int) -> None:
    """One 1 % change and one refresh on a database already filled and computed."""
    changed = change(engine, 0.01, recent, seed=seed)
    pids: dict[int, float] = {}
    sa.event.listen(engine, "connect", lambda raw, _: pids.setdefault(
        raw.get_backend_pid(), _backend_cpu(raw.get_backend_pid())))
    with engine.connect() as conn:  # the pooled connections the refresh will use
        for (pid,) in conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")):
            pids[pid] = _backend_cpu(pid)
    load = os.getloadavg()[0]
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    runs = refresh(engine, defs, as_of=as_of)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    pg = sum(_backend_cpu(pid) - cpu for pid, cpu in pids.items())
    top = ", ".join(f"{r['indicator']} {r['seconds']:.2f} s {r['mode']}"
                    for r in sorted(runs, key=lambda r: -r["seconds"])[:4])
    print(f"{changed} changed ({'the latest' if recent else 'spread over every month'}): refresh {wall:.2f} s, "
          f"CPU {own:.2f} s here + {pg:.2f} s PostgreSQL, load {load:.1f}; {top}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg-url", required=True, help="PostgreSQL database to fill (its munihub tables are emptied)")
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--sources", type=int, default=100)
    p.add_argument("--again", choices=("spread", "latest"), help="one change and refresh on a filled database")
    p.add_argument("--seed", type=int, default=11, help="which requests --again changes")
    args = p.parse_args(argv)
    engine = store.open_store(args.pg_url)
    as_of = dt.datetime(2025, 3, 1, tzinfo=UTC)
    if args.again:
        defs, bad = load_all(REPO_ROOT / "indicators")
        again(engine, defs, as_of, args.again == "latest", args.seed)
        return 0
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE source_rows, entity_members, indicator_values, indicator_runs")
    started = time.perf_counter()
    shape = build(engine, args.requests, args.sources)
    print(f"store written in {time.perf_counter() - started:.1f} s: {shape}", flush=True)
    defs, bad = load_all(REPO_ROOT / "indicators")
    assert not bad, bad
    started = time.perf_counter()
    full = refresh(engine, defs, full=True, as_of=as_of)
    full_s = time.perf_counter() - started
    for r in sorted(full, key=lambda r: -r["seconds"]):
        print(f"  full  {r['indicator']:32} {r['seconds']:7.2f} s  {r['cells']} cells")
    print(f"full computation of {len(defs)} indicators: {full_s:.1f} s (target < 60 s)", flush=True)
    for recent in (False, True):
        changed = change(engine, 0.01, recent)
        started = time.perf_counter()
        inc = refresh(engine, defs, as_of=as_of)
        inc_s = time.perf_counter() - started
        for r in sorted(inc, key=lambda r: -r["seconds"])[:8]:
            print(f"  incr  {r['indicator']:32} {r['seconds']:7.2f} s  {r['mode']}, {r['periods']} period(s)")
        print(f"incremental refresh after {changed} changed requests (1 %, "
              f"{'the latest' if recent else 'spread over every month'}): {inc_s:.1f} s (target < 5 s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
