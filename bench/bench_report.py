"""Time `write_report` on a busy store: 100 sources x 30 loads each, quarantine and entities.

Builds a fresh SQLite store of synthetic ledger rows (checks JSON per load, some held or
failed), open quarantine rows with raw payloads carrying ids and mobiles, entity members
across sources and open review pairs; then times one `write_report` (target < 10 s) and a
second one into the same directory (earlier runs kept).

    .venv/bin/python bench/bench_report.py [--sources 100] [--runs 30] [--quarantine 20] [--seed 7]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from munihub import store
from munihub.report.build import write_report

NOW = dt.datetime(2024, 11, 4, 12, 0, tzinfo=dt.timezone.utc)
RULES = [("format:ir-national-id", "national_id"), ("format:ir-mobile", "mobile"), ("required", "first_name"),
         ("format:date", "birth_date"), ("additionalProperties", "zip_code")]


class Contract:
    def __init__(self, id, freshness):
        self.id, self.agency, self.owner, self.version = id, id.split(".")[0], "اداره " + id, "1.0.0"
        self.freshness_seconds = freshness


def _nid(rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(10))


def build(engine, sources: int, runs: int, per_load_quarantine: int, rng: random.Random) -> list[Contract]:
    """Fill the store; returns the contracts (every third source has no freshness window)."""
    contracts = [Contract(f"agency{i:03d}.dataset", None if i % 3 == 0 else 86400) for i in range(sources)]
    loads, quarantine = [], []
    for c in contracts:
        for r in range(runs):
            started = NOW - dt.timedelta(hours=(runs - r) * 6)
            status = rng.choices(["published", "held", "failed"], [90, 7, 3])[0]
            rows_in = rng.randrange(500, 5000)
            q = rng.randrange(0, per_load_quarantine * 2)
            new = rng.randrange(0, rows_in - q)
            checks = [{"name": f"check_{k}", "field": f"field_{k}", "metric": "nullValues",
                       "severity": "error" if k < 2 else "warning",
                       "status": "failed" if status == "held" and k == 0 else "passed",
                       "observed": rng.random() * 5, "expected": "<= 5", "message": f"check {k}"} for k in range(6)]
            load_id = f"{c.id}-{r:03d}"
            loads.append({"load_id": load_id, "source": c.id, "contract_version": "1.0.0", "status": status,
                          "started_at": started, "finished_at": started + dt.timedelta(minutes=2),
                          "rows_in": rows_in, "rows_new": new, "rows_changed": 0,
                          "rows_unchanged": rows_in - q - new, "rows_quarantined": q, "checks": checks})
            for n in range(q):
                rule, field = rng.choice(RULES)
                nid, mob = _nid(rng), "0915" + _nid(rng)[:7]
                quarantine.append({"source": c.id, "load_id": load_id, "position": f"row {n}", "source_key": nid,
                                   "raw": {"kod_melli": nid, "mobile": mob, "name": "علی رضایی", "n": n},
                                   "reasons": [{"pointer": f"/{field}", "rule": rule, "field": field,
                                                "message": f"{field} is wrong", "message_fa": "نادرست"}],
                                   "status": "open"})
    members, entities, review = [], [], []
    at = NOW - dt.timedelta(hours=1)
    for e in range(20000):
        picks = rng.sample(contracts, rng.choice([1, 1, 1, 2, 3]))
        eid = f"E{e}"
        entities.append({"entity_id": eid, "entity_type": "person", "golden": {}, "lineage": {},
                         "member_count": len(picks), "updated_at": at})
        for c in picks:
            members.append({"source": c.id, "source_key": f"k{e}", "entity_id": eid, "entity_type": "person",
                            "rule": "exact", "score": 1.0, "load_id": "x", "assigned_at": at})
    for p in range(2000):
        review.append({"entity_type": "person", "left_ref": f"{contracts[0].id}|k{p}", "right_ref": f"{contracts[1].id}|k{p}",
                       "probability": rng.random(), "status": "open", "created_at": at})
    with engine.begin() as conn:
        conn.execute(store.loads.insert(), loads)
        conn.execute(store.quarantine.insert(), quarantine)
        conn.execute(store.entities.insert(), entities)
        conn.execute(store.entity_members.insert(), members)
        conn.execute(store.review_queue.insert(), review)
    print(f"store: {len(loads)} loads, {len(quarantine)} quarantine rows, {len(entities)} entities, "
          f"{len(members)} members, {len(review)} review pairs")
    return contracts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--quarantine", type=int, default=20, help="mean quarantined rows per load")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = store.open_store(f"sqlite:///{Path(tmp) / 'store.db'}")
        t0 = time.perf_counter()
        contracts = build(engine, args.sources, args.runs, args.quarantine, random.Random(args.seed))
        print(f"build: {time.perf_counter() - t0:.1f} s")
        out = Path(tmp) / "report"
        for run in ("first", "second"):
            t0 = time.perf_counter()
            write_report(engine, out, contracts=contracts, run_id=run, now=NOW)
            took = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in out.iterdir())
            print(f"write_report ({run}): {took:.2f} s (target < 10 s) — {len(list(out.iterdir()))} files, "
                  f"{size / 1e6:.1f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
