"""Every citizen mention counts: records kept, values set aside, mentions made, persons found,
on exports written the way agencies write them, beside the previous version in the same run.

Data (`munihub.testing.phenomena` over `munihub.testing.synthetic`, seeded): a registry (person
schema, keyed by its row id, with citizens registered twice), a 137 hotline (one-field caller
names in every form, the number given as a mobile, a landline or 8 local digits, national ids
sometimes missing or failing their check digit, placeholders) and a payments system (one-field
payer names).  Sources are SQLite tables read through contracts, exactly as an agency's would
be: sync every source, then a full resolution.  The same files are run by this tree and by a
previous commit (`--against`, extracted with `git archive`), each in its own process and store.

Reported per version: published rows vs distinct source records, records quarantined vs values
set aside, mentions per source record, persons pairwise and B-cubed precision/recall/F1 (a
record lost to a key collision or quarantine counts as a singleton), and B-cubed recall per
phenomenon.

    .venv/bin/python bench/bench_mentions.py [--people 1500] [--seed 5] [--against 1b96ca3]
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
servers:
  - server: {name}
    type: custom
    customProperties:
      - {{property: connector, value: sql}}
      - {{property: url, value: "sqlite:///{db}"}}
      - {{property: table, value: {name}}}
      - {{property: watermark, value: updated_at}}
      - {{property: key, value: {key}}}
      - {{property: batch_size, value: 1000}}
schema:
  - name: {name}
    physicalName: {name}
    customProperties:
      - {{property: sharedSchema, value: {shared}}}{record_id}
    properties:
{props}customProperties:
  - {{property: retries, value: 0}}
"""
PROP = "      - {{name: {n}, physicalName: {p}, logicalType: string, transformLogic: \"{t}\", classification: personal{x}}}\n"


def _contract(folder: Path, dataset: str, db: Path, key: str, shared: str, props, record_id: str = "") -> None:
    agency, name = dataset.split(".")
    body = "".join(PROP.format(n=n, p=p, t=t, x=x) for n, p, t, x in props)
    rid = f"\n      - {{property: recordId, value: {record_id}}}" if record_id else ""
    (folder / agency).mkdir(parents=True, exist_ok=True)
    (folder / agency / f"{name}.yaml").write_text(CONTRACT.format(
        id=dataset, name=name, db=db, key=key, shared=shared, record_id=rid, props=body), "utf-8")


def _table(db: Path, name: str, rows: list[dict]) -> None:
    cols = list(rows[0])
    with sqlite3.connect(db) as con:
        con.execute(f"CREATE TABLE {name} ({', '.join(c + ' TEXT' for c in cols)})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})",
                        [tuple(None if r[c] is None else str(r[c]) for c in cols) for r in rows])


def build(out: Path, people_n: int, seed: int) -> list[dict]:
    """Write the three sources and their contracts under `out`; return the truth rows."""
    from munihub.testing import phenomena, synthetic as syn

    rng = random.Random(seed)
    people = syn.make_people(people_n, seed)
    truth: list[dict] = []
    stamp = "2024-05-01 00:00:00"

    registry = []
    for person in people:
        copies = 2 if rng.random() < 0.08 else 1
        for _ in range(copies):
            rec, _ = syn.noisy_copy(person, rng, 0.4)
            rid = f"{len(registry) + 1}"
            registry.append({"id": rid, "code_melli": rec["national_id"], "fname": rec["first_name"],
                             "lname": rec["last_name"], "father": rec["father_name"], "birth": rec["birth_date"],
                             "mobile": rec["mobile"], "updated_at": stamp})
            truth.append({"source": "registry.citizens", "record_id": rid, "old_key": person.national_id,
                          "person": person.person_id, "kinds": "re_registration" if copies > 1 else "registry"})
    calls, payments = [], []
    for person in people:
        for _ in range(rng.choice((0, 1, 1, 2))):
            name, form = phenomena.one_field_name(person, rng)
            phone, phone_kind = phenomena.caller_phone(person, rng)
            nid, nid_kind = None, "no_national_id"
            if rng.random() < 0.45:
                nid, nid_kind = person.national_id, "national_id"
                if rng.random() < 0.15:
                    nid, nid_kind = syn.spoil({"national_id": nid}, "bad_check_digit", rng)["national_id"], \
                        "bad_check_digit"
            cid = f"137-{len(calls) + 1:06d}"
            calls.append({"call_id": cid, "caller": name, "caller_tel": phone, "caller_nid": nid,
                          "district": person.district, "address": f"{person.street}، پلاک {person.plate}",
                          "category": "پسماند", "filed_at": "2024-04-01 10:00:00", "updated_at": stamp})
            truth.append({"source": "rc137.calls", "record_id": cid, "old_key": cid, "person": person.person_id,
                          "kinds": f"{form} {phone_kind} {nid_kind}"})
        if rng.random() < 0.5:
            name, form = phenomena.one_field_name(person, rng, rng.choice(("name_plain", "name_comma", "name_title")))
            pid = f"PAY{len(payments) + 100000}"
            payments.append({"pay_id": pid, "payer": name, "payer_mobile": person.mobile,
                             "code_melli": person.national_id if rng.random() < 0.6 else None,
                             "amount": str(rng.randrange(1, 90) * 100000), "updated_at": stamp})
            truth.append({"source": "finance.pay", "record_id": pid, "old_key": pid, "person": person.person_id,
                          "kinds": f"payer {form}"})
    _table(out / "registry.db", "citizens", registry)
    _table(out / "calls.db", "calls", calls)
    _table(out / "pay.db", "pay", payments)
    folder = out / "contracts"
    _contract(folder, "registry.citizens", out / "registry.db", "id", "person", [
        ("national_id", "code_melli", "national_id", ", primaryKey: true, required: true"),
        ("first_name", "fname", "person_name", ""), ("last_name", "lname", "person_name", ""),
        ("father_name", "father", "person_name", ""), ("birth_date", "birth", "date", ""),
        ("mobile", "mobile", "mobile:51", "")], record_id="id")
    _contract(folder, "rc137.calls", out / "calls.db", "call_id", "service_request", [
        ("tracking_code", "call_id", "text", ", primaryKey: true, required: true"),
        ("citizen_name", "caller", "person_name", ""), ("mobile", "caller_tel", "mobile:51", ""),
        ("national_id", "caller_nid", "national_id", ""), ("district", "district", "text", ""),
        ("address", "address", "text", ""), ("category", "category", "text", ""),
        ("filed_at", "filed_at", "datetime", ", required: true")])
    _contract(folder, "finance.pay", out / "pay.db", "pay_id", "payment", [
        ("payment_id", "pay_id", "text", ", primaryKey: true, required: true"),
        ("payer_name", "payer", "person_name", ""), ("mobile", "payer_mobile", "mobile:51", ""),
        ("national_id", "code_melli", "national_id", ""), ("amount_rial", "amount", "integer", ", required: true")])
    return truth


# ---------------------------------------------------------------- run by each version

def drive(folder: Path) -> dict:
    """Sync every source and resolve in full with the munihub on sys.path; the store's answer."""
    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.resolve.run import resolve_all

    settings = Settings(home=folder / "home", store_url=f"sqlite:///{folder / 'store.db'}",
                        contracts_dir=folder.parent / "contracts", schemas_dir=REPO_ROOT / "schemas")
    started = time.perf_counter()
    for dataset in ("registry.citizens", "rc137.calls", "finance.pay"):
        pipeline.sync_source(dataset, settings)
    synced = time.perf_counter() - started
    engine = store.engine_for(settings)
    resolve_all(engine, settings, full=True)
    with engine.connect() as conn:
        loads = [dict(r) for r in conn.execute(sa.select(store.loads)).mappings()]
        m = store.entity_members
        members = {f"{s}|{k}": e for s, k, e in conn.execute(
            sa.select(m.c.source, m.c.source_key, m.c.entity_id).where(m.c.entity_type == "person"))}
    return {"synced_s": round(synced, 2), "total_s": round(time.perf_counter() - started, 2), "members": members,
            "loads": [{"source": x["source"], "rows_in": x["rows_in"], "quarantined": x["rows_quarantined"],
                       "published": (x["rows_new"] or 0) + (x["rows_changed"] or 0) + (x["rows_unchanged"] or 0),
                       "new": x["rows_new"], "set_aside": sum((x.get("values_set_aside") or {}).values())}
                      for x in loads]}


def run_version(tree: Path, folder: Path, script: Path | None = None) -> dict:
    """`script --drive folder` (this bench by default) run by the munihub of `tree`."""
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, str(script or Path(__file__).resolve()), "--drive", str(folder)], cwd=tree,
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{tree}: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def extract(rev: str, into: Path) -> Path:
    """The repository at `rev` as files (no checkout touched)."""
    archive = subprocess.run(["git", "-C", str(TREE), "archive", "--format=tar", rev], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# ---------------------------------------------------------------- scores

def score(truth: list[dict], result: dict, version: str) -> dict:
    from munihub.resolve.evaluate import bcubed_scores, pairwise_scores

    members, person_sources = result["members"], {"registry.citizens"}
    pred, true, seen = {}, {}, set()
    mentions = collections.Counter()
    for i, t in enumerate(truth):
        key = t["old_key"] if version == "previous" else t["record_id"]
        ref = f"{t['source']}|{key}" + ("" if t["source"] in person_sources else "#person")
        rid = f"{t['source']}|{t['record_id']}"
        true[rid] = t["person"]
        if ref in members and ref not in seen:  # a second record under one key was overwritten
            pred[rid] = members[ref]
            mentions[t["source"]] += 1
            seen.add(ref)
        else:
            pred[rid] = f"lost-{i}"
    by_source = collections.Counter(t["source"] for t in truth)
    out = {"pairwise": pairwise_scores(pred, true), "bcubed": bcubed_scores(pred, true),
           "mentions_per_record": {s: round(mentions[s] / n, 3) for s, n in sorted(by_source.items())},
           "loads": result["loads"], "synced_s": result["synced_s"], "total_s": result["total_s"]}
    clusters = collections.defaultdict(set)
    for rid, p in pred.items():
        clusters[p].add(rid)
    people = collections.defaultdict(set)
    for rid, p in true.items():
        people[p].add(rid)
    recall = collections.defaultdict(list)
    for t in truth:
        rid = f"{t['source']}|{t['record_id']}"
        got = len(clusters[pred[rid]] & people[t["person"]]) / len(people[t["person"]])
        for kind in t["kinds"].split():
            recall[kind].append(got)
    out["recall_by_phenomenon"] = {k: (round(sum(v) / len(v), 3), len(v)) for k, v in sorted(recall.items())}
    return out


def report(results: dict[str, dict]) -> None:
    names = list(results)
    print(f"{'':32}" + "".join(f"{n:>22}" for n in names))
    row = lambda label, f: print(f"{label:32}" + "".join(f"{f(results[n]):>22}" for n in names))  # noqa: E731
    for src in ("registry.citizens", "rc137.calls", "finance.pay"):
        def load(r, s=src):
            return next(x for x in r["loads"] if x["source"] == s)
        row(f"{src} in/published/quar./aside", lambda r: "{rows_in}/{published}/{quarantined}/{set_aside}"
            .format(**load(r)))
        row(f"{src} mentions per record", lambda r, s=src: f"{r['mentions_per_record'][s]:.3f}")
    for kind in ("pairwise", "bcubed"):
        row(f"persons {kind} P/R/F1", lambda r, k=kind: "{precision:.3f}/{recall:.3f}/{f1:.3f}".format(**r[k]))
    row("sync seconds / with resolution", lambda r: f"{r['synced_s']:.1f} / {r['total_s']:.1f}")
    print("B-cubed recall by phenomenon (records):")
    for kind in results[names[-1]]["recall_by_phenomenon"]:
        row(f"  {kind}", lambda r, k=kind: "{:.3f} ({})".format(*r["recall_by_phenomenon"].get(k, (0, 0))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--against", default="1b96ca3", help="the previous version (a git revision)")
    ap.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--truth-out", type=Path, help="also write the truth rows here (CSV)")
    args = ap.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive), ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory(prefix="bench-mentions-") as tmp:
        work = Path(tmp)
        truth = build(work, args.people, args.seed)
        if args.truth_out:
            with args.truth_out.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(truth[0]))
                writer.writeheader()
                writer.writerows(truth)
        print(f"{len(truth):,} source records of {args.people:,} citizens (seed {args.seed})")
        old = extract(args.against, work / "previous-tree")
        results = {f"previous ({args.against})": score(truth, run_version(old, work / "previous"), "previous"),
                   "this tree": score(truth, run_version(TREE, work / "current"), "current")}
    report(results)


if __name__ == "__main__":
    main()
