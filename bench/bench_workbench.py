"""Time the stewards' workbench pages on a big PostgreSQL store (issue 19's figures).

Fills a throwaway database with 100 sources x 10 loads (checks per load), 1M published person
rows with their matcher features and blocking keys, entities and members, 100k open
quarantined rows (raw payloads with ids and mobiles) and 10k open review pairs; then signs
in and asks every page N times through the app (in process, FastAPI's TestClient), printing
p50 / p95 / max per page.  Targets: every page under 300 ms at p95, entity search under 100 ms.
The managers' dashboards (issue 20) are timed too, as a manager, over figures of every shipped
indicator written at a big city's size (`fill_indicators`): the first view of each page, the
time the workbench takes to make the unfiltered pages and CSVs behind after a computation is
recorded, and the first view after that computation.

    .venv/bin/python bench/bench_workbench.py [--rows 1000000] [--quarantine 100000] [--pairs 10000] [--n 30]
    .venv/bin/python bench/bench_workbench.py --dashboards-only --rows 10000 --quarantine 1000 --pairs 100

The PostgreSQL server is MUNIHUB_TEST_PG (as the tests use); the database is dropped after.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
FIRST = ["علی", "محمد", "حسین", "رضا", "مهدی", "فاطمه", "زهرا", "مریم", "سارا", "نرگس"] * 3 + \
        [f"نام{i}" for i in range(300)]
LAST = ["رضایی", "محمدی", "احمدی", "کریمی", "حسینی", "موسوی", "جعفری", "کاظمی"] + [f"خانواده{i}" for i in range(2000)]


def national_id(rng: random.Random) -> str:
    first9 = f"{rng.randrange(10 ** 9):09d}"
    s = sum(int(d) * (10 - i) for i, d in enumerate(first9)) % 11
    return first9 + str(s if s < 2 else 11 - s)


def copy(conn, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples; dict/list values as JSON) into `table` through psycopg2."""
    buf = io.StringIO()
    for row in rows:
        cells = []
        for v in row:
            if v is None:
                cells.append("\\N")
            elif isinstance(v, (dict, list)):
                cells.append(json.dumps(v, ensure_ascii=False).replace("\\", "\\\\").replace("\t", " "))
            elif isinstance(v, dt.datetime):
                cells.append(v.isoformat())
            else:
                cells.append(str(v).replace("\\", "\\\\").replace("\t", " ").replace("\n", " "))
        buf.write("\t".join(cells) + "\n")
    buf.seek(0)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def fill(engine, rows: int, quarantine: int, pairs: int, sources: int, rng: random.Random) -> dict:
    from munihub.resolve.blocking import record_keys
    from munihub.resolve.match import features, settings_for

    conf = settings_for("person")
    names = [f"agency{i:03d}.people" for i in range(sources)]
    per_source = rows // sources
    loads, load_of = [], {}
    with engine.begin() as conn:
        for s in names:
            for r in range(10):
                started = NOW - dt.timedelta(hours=(10 - r) * 6)
                load_id = f"{s}-{r}"
                q = quarantine // (sources * 10)
                checks = [{"name": f"nullValues {f}", "field": f, "metric": "nullValues", "severity": "error",
                           "status": "passed", "observed": round(rng.random() * 5, 2), "expected": "mustBeLessThan 5",
                           "message": "ok"} for f in ("national_id", "last_name", "birth_date")]
                loads.append((load_id, s, "1.0.0", "published", started, started + dt.timedelta(minutes=3),
                              per_source // 10 + q, per_source // 10, 0, 0, q, checks))
                load_of[s] = load_id
        copy(conn, "loads", ["load_id", "source", "contract_version", "status", "started_at", "finished_at", "rows_in",
                             "rows_new", "rows_changed", "rows_unchanged", "rows_quarantined", "checks"], loads)
    people = max(rows * 6 // 10, 1)  # a person appears in ~1.7 sources on average
    ids = [national_id(rng) for _ in range(people)]
    sample = {}
    for start in range(0, rows, 100_000):
        src_rows, feat_rows, key_rows, member_rows = [], [], [], []
        for n in range(start, min(start + 100_000, rows)):
            p = n % people
            source = names[n % sources]
            prng = random.Random(p)
            rec = {"national_id": ids[p], "first_name": prng.choice(FIRST), "last_name": prng.choice(LAST),
                   "birth_date": f"19{prng.randrange(40, 99)}-0{prng.randrange(1, 9)}-1{prng.randrange(0, 9)}",
                   "mobile": f"+98915{prng.randrange(10 ** 7):07d}", "gender": prng.choice(["male", "female"])}
            key = f"k{n}"
            ref = f"{source}|{key}"
            src_rows.append((source, key, "person", rec, "h", load_of[source], load_of[source], NOW))
            feats = features({"entity_type": "person", "fields": rec})
            feat_rows.append((ref, "person", "h", feats))
            key_rows += [(k, ref) for k in record_keys("person", feats, conf)]
            member_rows.append((source, key, f"P-{p:012x}", "person", "exact", 1.0, load_of[source], NOW))
            if n == rows // 2:
                sample = {"national_id": ids[p], "mobile": rec["mobile"], "name": f"{rec['first_name']} {rec['last_name']}",
                          "entity": f"P-{p:012x}", "ref": ref}
        with engine.begin() as conn:
            copy(conn, "source_rows", ["source", "source_key", "entity_type", "record", "record_hash", "first_load_id",
                                       "load_id", "updated_at"], src_rows)
            copy(conn, "match_features", ["ref", "entity_type", "record_hash", "features"], feat_rows)
            copy(conn, "match_keys", ["key", "ref"], sorted(set(key_rows)))
            copy(conn, "entity_members", ["source", "source_key", "entity_id", "entity_type", "rule", "score",
                                          "load_id", "assigned_at"], member_rows)
        print(f"  {min(start + 100_000, rows):,} rows", flush=True)
    with engine.begin() as conn:
        ent_rows = []
        for p in range(min(people, rows)):
            prng = random.Random(p)
            golden = {"national_id": ids[p], "first_name": prng.choice(FIRST), "last_name": prng.choice(LAST)}
            ent_rows.append((f"P-{p:012x}", "person", golden, {"national_id": {"ref": "x|k", "load_id": "L",
                                                                             "rule": "trust"}}, 1, NOW))
        copy(conn, "entities", ["entity_id", "entity_type", "golden", "lineage", "member_count", "updated_at"], ent_rows)
        q_rows = []
        rules = [("/national_id", "transform:national_id"), ("/mobile", "transform:mobile"), ("/birth_date", "transform:date"),
                 ("/last_name", "required")]
        for n in range(quarantine):
            source = names[n % sources]
            pointer, rule = rules[n % len(rules)]
            nid = national_id(rng)
            q_rows.append((source, f"{source}-{n % 10}", f"row {n}", nid,
                           {"code_melli": nid, "mobile": "0915" + nid[:7], "fname": "علی", "n": n},
                           [{"pointer": pointer, "rule": rule, "field": pointer[1:], "message": f"{pointer[1:]} is wrong",
                             "message_fa": f"مقدار «{pointer[1:]}» نادرست است"}], "open"))
        copy(conn, "quarantine", ["source", "load_id", "position", "source_key", "raw", "reasons", "status"], q_rows)
        review = [("person", f"{names[0]}|k{2 * i}", f"{names[1]}|k{2 * i + 1}", rng.random() * 0.3 + 0.6, "open", NOW)
                  for i in range(pairs)]
        copy(conn, "review_queue", ["entity_type", "left_ref", "right_ref", "probability", "status", "created_at"], review)
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
    return sample


def fill_indicators(engine, rng: random.Random) -> dict:
    """Figures of every shipped indicator written straight into `indicator_values`, at the size
    of a big city (22 districts, 40 categories, 20 agencies sending to each other, 100 systems,
    36 Jalali months; 137.requests has 31,680 cells, systems.overlap 4,950 pairs a month), some
    cells counting fewer than 5 citizens.  The
    dashboards read only these rows, so computing them from a million requests first (the
    indicators bench) would time the wrong thing."""
    from munihub.indicators import load_all
    from munihub.indicators.define import as_json
    from munihub.config import REPO_ROOT

    months = [f"{1401 + m // 12}-{m % 12 + 1:02d}" for m in range(36)]
    sources = [f"agency{i:03d}.people" for i in range(100)]
    agencies = [f"MM-{a:02d}" for a in range(20)]
    cells = {"district": [f"منطقه {d}" for d in range(1, 23)], "category": [f"موضوع {c}" for c in range(40)],
             "agency_pair": [f"{a} → {b}" for a in agencies for b in agencies if a != b],
             "source": sources, "source_pair": [f"{a} & {b}" for i, a in enumerate(sources) for b in sources[i + 1:]],
             "indicator": [f"IND-{i:02d}" for i in range(60)]}
    periods = {"month": months, "period": [f"{1402 + q // 4}-Q{q % 4 + 1}" for q in range(8)], None: months[-12:]}
    rows = []
    for d in load_all(REPO_ROOT / "indicators")[0]:
        combos = [{}]
        for dim in d.cells:
            combos = [{**c, dim: v} for c in combos for v in cells[dim]]
        if d.top:
            combos = combos[:d.top * 2]
        for period in periods[d.time]:
            for dims in combos:
                n = rng.randrange(0, 400)
                value = {"share": rng.random() * 0.4, "count": float(n), "distinct_count": float(n)}.get(
                    d.measure["kind"], round(rng.random() * 30, 1))
                rows.append((d.id, period, as_json(dims), dims, value, value, 1.0, n, rng.randrange(0, 60),
                             (d.target or {}).get("value", 50.0 if d.family == "plan" else None), NOW))
    with engine.begin() as conn:
        copy(conn, "indicator_values", ["indicator_id", "period", "cell", "dims", "value", "numerator", "denominator",
                                        "rows", "citizens", "target", "computed_at"], rows)
        conn.execute(sa.text("ANALYZE indicator_values"))
    return {"cells": len(rows)}


def timed(client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[-400:])
    return times


def p95(times: list[float]) -> float:
    return times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]


def made_behind(kept, keys: list, before: dict | None, seconds: float = 120.0) -> float:
    """Seconds until every page of `keys` is kept from a version other than `before`'s."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if all(kept.version(k) is not None and (before is None or kept.version(k) != before[k]) for k in keys):
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise SystemExit(f"the pages were not made behind within {seconds:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quarantine", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--n", type=int, default=30, help="requests per page")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--dashboards-only", action="store_true",
                    help="time only the managers' dashboards (they read indicator figures, not person rows: "
                         "a small --rows is then enough)")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from munihub import store
    from munihub.config import REPO_ROOT, Settings
    from munihub.indicators import load_all
    from munihub.workbench import add_user, create_app

    admin_url = os.environ.get("MUNIHUB_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    name = f"munihub_bench_wb_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        home = Path(tempfile.mkdtemp())
        (home / "contracts").mkdir()
        settings = Settings(home=home, store_url=url, contracts_dir=home / "contracts",
                            schemas_dir=REPO_ROOT / "schemas")
        engine = store.engine_for(settings)
        t0 = time.perf_counter()
        sample = fill(engine, args.rows, args.quarantine, args.pairs, args.sources, random.Random(args.seed))
        print(f"filled in {time.perf_counter() - t0:.0f} s")
        filled = fill_indicators(engine, random.Random(args.seed))
        print(f"indicator figures: {filled['cells']:,} cells")
        add_user(engine, "bench", "bench passphrase 19", "steward", actor="bench")
        add_user(engine, "manager", "bench passphrase 19", "manager", actor="bench")

        def signed_in(user: str):
            client = TestClient(create_app(settings, prefix=""), follow_redirects=False)
            pre = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
            client.post("/signin", data={"csrf": pre, "username": user, "password": "bench passphrase 19"})
            return client
        client, manager = signed_in("bench"), signed_in("manager")
        with engine.connect() as conn:
            qid = conn.execute(sa.select(sa.func.max(store.quarantine.c.id))).scalar()
            rid = conn.execute(sa.select(sa.func.max(store.review_queue.c.id))).scalar()
        fa = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
        pages = {
            "overview": "/", "source": "/sources/agency007.people", "quarantine": "/quarantine",
            "quarantine by source": "/quarantine?source=agency042.people",
            "quarantine by rule+field+date": f"/quarantine?rule=required&field=/last_name&since={(NOW - dt.timedelta(days=2)).date()}",
            "quarantine record": f"/quarantine/{qid}", "review list": "/review", "review pair": f"/review/{rid}",
            "entity page": f"/entities/{sample['entity']}",
            "search national id (Persian digits)": f"/entities?q={sample['national_id'].translate(fa)}",
            "search mobile": f"/entities?q=0{sample['mobile'][3:]}", "search name": f"/entities?q={sample['name']}",
            "search source record": f"/entities?q={sample['ref']}",
        }
        dashboards = {  # a manager's pages (figures only)
            "dashboards index": "/dashboards", "dashboard 137": "/dashboards/137",
            "dashboard 137 by district+category": "/dashboards/137?district=منطقه 7&category=موضوع 3",
            "dashboard inter-agency": "/dashboards/inter_agency",
            "dashboard inter-agency by agency": "/dashboards/inter_agency?agency=MM-07",
            "dashboard plan": "/dashboards/plan", "dashboard systems": "/dashboards/systems",
            "CSV 137.requests (every cell)": "/dashboards/137/137.requests.csv",
            "CSV systems.overlap (every pair)": "/dashboards/systems/systems.overlap.csv",
        }
        if not args.dashboards_only:
            print(f"{'page':40s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'first ms':>9s}")
            cold = timed(client, "/", 1)[0]  # the report's figures computed (then kept 30 s, refreshed behind)
            print(f"{'overview, figures computed (cold)':40s} {cold:8.1f}", flush=True)
            for label, path in pages.items():
                first = timed(client, path, 1)[0]  # warms caches (contracts, definitions, imports)
                times = sorted(timed(client, path, args.n))
                print(f"{label:40s} {statistics.median(times):8.1f} {p95(times):8.1f} {times[-1]:8.1f} "
                      f"{first:9.1f}", flush=True)
        # the dashboards: the first request starts the workbench's watch of the indicator
        # computations, which makes every unfiltered page and CSV behind (figures.watch)
        timed(manager, "/dashboards", 1)
        kept = manager.app.state.dashboard_pages
        behind = [k for k in [("page", f, ()) for f in ("137", "inter_agency", "plan", "systems")]
                  + [("csv", d.family, d.id, ()) for d in load_all(REPO_ROOT / "indicators")[0]]]
        print(f"pages and CSVs made behind at start: {made_behind(kept, behind, None):.1f} s")
        print(f"{'page (manager)':40s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'first ms':>9s} "
              f"{'1st after computation ms':>25s}")
        results = {}
        for label, path in dashboards.items():
            # first view of this app (a filtered page is made on it; an unfiltered one was made behind)
            first = timed(manager, path, 1)[0]
            results[label] = (sorted(timed(manager, path, args.n)), first)
        # a computation is recorded (as `indicators compute` or a consolidation's refresh does):
        # the pages are made again behind; a manager's first view after it is what counts
        filtered = [("page", p.split("/")[2].split("?")[0], tuple(sorted(
            (k, v) for k, v in (x.split("=") for x in p.split("?")[1].split("&")))))
            for p in dashboards.values() if "?" in p]
        before = {k: kept.version(k) for k in behind + filtered}
        with engine.begin() as conn:
            conn.execute(store.indicator_runs.insert().values(
                indicator_id="137.requests", definition_hash="bench", mode="incremental", computed_at=NOW,
                periods=["1403-12"], seconds=1.0))
        print(f"after a computation, made again behind in {made_behind(kept, behind, before):.1f} s "
              "(including up to the watch's 5 s until it notices)")
        for label, path in dashboards.items():
            after = timed(manager, path, 1)[0]  # a filtered page: the previous one, made again behind
            times, first = results[label]
            print(f"{label:40s} {statistics.median(times):8.1f} {p95(times):8.1f} {times[-1]:8.1f} {first:9.1f} "
                  f"{after:25.1f}", flush=True)
        # the filtered pages asked just now are being made behind: let them finish, and the watch
        # (it asks every 5 s) not complain about the database dropped below
        made_behind(kept, filtered, before)
        import logging
        logging.getLogger("munihub.workbench").disabled = True
    finally:
        store.forget_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
