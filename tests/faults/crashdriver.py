"""Crash driver: sync one SQLite source and SIGKILL this very process at a named point.

    python tests/faults/crashdriver.py --store URL --contracts DIR --src FILE --kill-at POINT --seed N

Points: the pipeline's crash hooks ("during-extract" after the seed's n-th staged batch,
"after-staging", "after-checks", "inside-publish", "after-publish") and "during-resolution"
(sync completes, then `consolidate` is killed at a seeded SQL statement inside its write
transaction).  "none" runs to the end.  A kill is a real SIGKILL: no finally, no atexit,
no rollback by Python; whatever survives is what the store itself made durable.

The module also holds what the tests share: the seeded source data and the canonical dump.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

CONTRACT = "testreg.citizens"
HOOK_POINTS = ("during-extract", "after-staging", "after-checks", "inside-publish", "after-publish")
POINTS = HOOK_POINTS + ("during-resolution",)
BATCH_SIZE = 7
NOT_KILLED = 3  # exit code when the named point was never reached


# ---------------------------------------------------------------- seeded source data

def national_id(first9: str) -> str:
    """A national id with a valid check digit: the package's one implementation."""
    from munihub.persian.ids import national_id_check_digit
    return first9 + str(national_id_check_digit(first9))


FIRST = ["محمد", "علی", "فاطمه", "زهرا", "حسین", "مریم", "رضا", "سکینه"]
LAST = ["احمدي", "كريمی", "رضایی", "حسینی", "محمدی‌نژاد", "موسوی", "جعفری"]


def _row(rng: random.Random, i: int, stamp: str) -> tuple:
    nid = national_id(f"{rng.randrange(10 ** 8, 10 ** 9):09d}")
    if rng.random() < 0.08:  # a wrong check digit: quarantined
        nid = nid[:-1] + str((int(nid[-1]) + 1) % 10)
    birth = rng.choice([f"13{rng.randint(40, 80)}/0{rng.randint(1, 9)}/1{rng.randint(0, 9)}",
                        "1403/07/31" if rng.random() < 0.3 else "1370/05/20"])
    mobile = rng.choice([f"0915{rng.randrange(10 ** 7):07d}", None])
    return (i, nid, rng.choice(FIRST), rng.choice(LAST), birth, mobile, stamp)


def make_source(path: Path, seed: int, phase: int) -> None:
    """Phase 1: 120 rows.  Phase 2 adds 180 rows and updates 30 old ones (all newer stamps)."""
    rng = random.Random(seed)
    first = [_row(rng, i, f"2024-01-01 {i % 24:02d}:{i % 60:02d}:00") for i in range(1, 121)]
    later = [_row(rng, i, f"2024-02-{1 + i % 27:02d} {i % 24:02d}:00:00") for i in range(121, 301)]
    updated = sorted(rng.sample(range(1, 121), 30))
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, "
                   "lname TEXT, birth TEXT, mobile TEXT, updated_at TEXT)")
        if phase == 1:
            db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", first)
        else:
            db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", later)
            db.executemany("UPDATE citizens SET lname = lname || ' دوم', updated_at = ? WHERE id = ?",
                           [(f"2024-03-0{1 + i % 9} 08:00:00", i) for i in updated])


# ---------------------------------------------------------------- canonical dump

def dump(engine) -> dict:
    """The store's meaning without ids and clocks: rows, cursors, entities, quarantine, open loads."""
    import json

    import sqlalchemy as sa

    from munihub import store

    def canon(value) -> str:  # JSONB reorders keys; compare meaning, not spelling
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

    with engine.connect() as conn:
        rows = sorted((r.source, r.source_key, r.record_hash) for r in conn.execute(sa.select(store.source_rows)))
        cursors = sorted((c.source, canon(c.cursor)) for c in conn.execute(sa.select(store.cursors)))
        entities = sorted((e.entity_id, e.entity_type, e.member_count, canon(e.golden))
                          for e in conn.execute(sa.select(store.entities)))
        members = sorted((m.source, m.source_key, m.entity_id) for m in conn.execute(sa.select(store.entity_members)))
        quarantine = sorted((q.source, q.position, canon(q.raw), q.status)
                            for q in conn.execute(sa.select(store.quarantine)))
        unfinished = conn.execute(sa.select(sa.func.count()).select_from(store.loads).where(
            store.loads.c.status.in_(["extracting", "staged", "checked"]))).scalar()
    return {"rows": rows, "cursors": cursors, "entities": entities, "members": members,
            "quarantine": quarantine, "unfinished_loads": unfinished}


# ---------------------------------------------------------------- the driver

def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def settings_for(store_url: str, contracts: Path, home: Path):
    from munihub.config import REPO_ROOT, Settings
    return Settings(home=home, store_url=store_url, contracts_dir=contracts,
                    schemas_dir=REPO_ROOT / "schemas", batch_size=BATCH_SIZE)


def kill_in_resolution(engine, rng: random.Random) -> None:
    """Arm a SIGKILL k statements after consolidate starts rewriting entities (k from the seed)."""
    import sqlalchemy as sa

    k = rng.randint(0, 4)
    state = {"armed": False, "n": 0}

    def before(conn, cursor, statement, parameters, context, executemany):
        if not state["armed"] and statement.lstrip().upper().startswith("DELETE FROM ENTITY_MEMBERS"):
            state["armed"] = True
        if state["armed"]:
            if state["n"] == k:
                _die()
            state["n"] += 1

    sa.event.listen(engine, "before_cursor_execute", before)


def run(store_url: str, contracts: Path, src: Path, kill_at: str, seed: int, home: Path) -> None:
    from munihub import pipeline, store

    os.environ["MUNIHUB_TEST_SRC"] = str(src)
    settings = settings_for(store_url, contracts, home)
    rng = random.Random(seed)
    if kill_at == "during-resolution":
        pipeline.sync_source(CONTRACT, settings)
        kill_in_resolution(store.engine_for(settings), rng)
        pipeline.consolidate(settings)
        return
    kill_batch = rng.randint(1, 12)  # phase 2 reads 210 rows: 30 batches of 7
    seen = {"batches": 0}

    def hook(where: str) -> None:
        if where == "during-extract":
            seen["batches"] += 1
            if kill_at == where and seen["batches"] == kill_batch:
                _die()
        elif where == kill_at:
            _die()

    load_id = pipeline.extract_and_stage(CONTRACT, settings, crash_hook=hook)
    pipeline.check_load(load_id, settings, crash_hook=hook)
    pipeline.publish_load(load_id, settings, crash_hook=hook)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--contracts", required=True, type=Path)
    ap.add_argument("--src", required=True, type=Path)
    ap.add_argument("--home", type=Path, default=None)
    # after-rekey: inside the publish, once rows of a former record identity moved (issue 15)
    ap.add_argument("--kill-at", choices=POINTS + ("after-rekey", "none"), default="none")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"pid {os.getpid()}", flush=True)
    run(args.store, args.contracts, args.src, args.kill_at, args.seed, args.home or args.contracts.parent / "home")
    if args.kill_at != "none":
        print(f"point {args.kill_at} was never reached", flush=True)
        return NOT_KILLED
    return 0


if __name__ == "__main__":
    sys.exit(main())
