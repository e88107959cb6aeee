"""Matching on five agencies' exports of one city's households, scored per phenomenon, beside the
previous matcher in the same run.

Data: `munihub.testing.exports` (written apart from the matcher): a civil registry, the 137
hotline, payments, building permits and business licences of one city's households, with
truth for persons and for 137 request groups.  Each export is read by a file-connector
contract exactly as an agency's would be (record ids naming each export's own id, one-field
names parsed, phones with `mobile:51`), synced and resolved in full, once by this tree and
once by a previous commit (`--against`, extracted with `git archive`), each in its own
process and store.  Run it on a tuning seed and on `FROZEN_SEED` (the default), which nothing
is ever tuned on.

Reported per version: persons and request groups pairwise and B-cubed P/R/F1, and the same
per phenomenon (`munihub.resolve.evaluate.scores_by_label`).  Besides the generator's labels,
the bench labels household look-alikes from the generated city: `twin` (same home, birth
date and father as another citizen), `household_surname` (another member of the home has
the same surname) and `household` (a home of two or more): their pairwise precision is the
precision on people who share an address, landline and postal code.

    .venv/bin/python bench/bench_exports.py [--households 1000] [--seed 20261205] [--against 8c06902]
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import tempfile
import time
from pathlib import Path

import bench_mentions  # a sibling script: its version runner and `git archive` extraction
from bench_mentions import extract

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
servers:
  - server: {name}-drop
    type: local
    path: "{folder}"
    format: {fmt}
    customProperties:
      - {{property: connector, value: file}}
      - {{property: pattern, value: "{pattern}"}}
schema:
  - name: {name}
    physicalName: {name}
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
      - {{property: recordId, value: {record_id}}}
    properties:
{props}customProperties:
  - {{property: retries, value: 0}}
"""
PROP = "      - {{name: {n}, physicalName: {p}, logicalType: string, transformLogic: \"{t}\"{x}}}\n"
KEY = ", primaryKey: true"
# dataset -> (export file, format, shared schema, record id column, [(field, column, transform, extra)])
SOURCES = {
    "registry.citizens": ("registry.csv", "csv", "person", "شناسه", [
        ("national_id", "کد_ملی", "national_id", KEY), ("first_name", "نام", "person_name", ""),
        ("last_name", "نام_خانوادگی", "person_name", ""), ("father_name", "نام_پدر", "person_name", ""),
        ("birth_date", "تاریخ_تولد", "date:13", ""), ("gender", "جنسیت", "gender", ""),
        ("mobile", "همراه", "mobile:51", ""), ("phone", "تلفن", "phone:51", ""),
        ("address.detail", "نشانی", "text", ""), ("postal_code", "کد_پستی", "postal_code", ""),
        ("address.district", "منطقه", "text", "")]),
    "rc137.calls": ("hotline.json", "json", "service_request", "tracking_code", [
        ("tracking_code", "tracking_code", "text", KEY + ", required: true"),
        ("citizen_name", "caller", "person_name", ""), ("mobile", "phone", "mobile:51", ""),
        ("national_id", "national_id", "national_id", ""), ("category", "category", "text", ""),
        ("description", "description", "text", ""), ("district", "district", "text", ""),
        ("address", "street", "text", ", transformSourceObjects: [street, alley]"),
        ("status", "status", "text", ""), ("filed_at", "filed_at", "datetime", ", required: true")]),
    "finance.payments": ("payments.csv", "csv", "payment", "payment_id", [
        ("payment_id", "payment_id", "text", KEY + ", required: true"), ("payer_name", "payer", "person_name", ""),
        ("national_id", "code_melli", "national_id", ""), ("mobile", "mobile", "mobile:51", ""),
        ("amount_rial", "amount_rial", "integer", ", required: true"), ("kind", "kind", "text", "")]),
    "urbanplanning.permits": ("permits.csv", "csv", "permit", "permit_no", [
        ("permit_no", "permit_no", "text", KEY + ", required: true"), ("owner_name", "owner", "person_name", ""),
        ("national_id", "owner_nid", "national_id", ""), ("address.detail", "address", "text", ""),
        ("address.postal_code", "postal_code", "postal_code", ""), ("district", "district", "text", ""),
        ("issued_on", "issued_on", "date", ""), ("floors", "floors", "integer", "")]),
    "licensing.licences": ("licences.json", "json", "person", "licence_no", [
        ("national_id", "holder_national_id", "national_id", KEY), ("first_name", "holder_first_name", "person_name", ""),
        ("last_name", "holder_last_name", "person_name", ""), ("mobile", "holder_mobile", "mobile:51", "")]),
}
FILE_SOURCE = {"registry.csv": "registry", "hotline.json": "hotline", "payments.csv": "payments",
               "permits.csv": "permits", "licences.json": "licences"}


def build(out: Path, households: int, seed: int) -> tuple[list[tuple], list[tuple]]:
    """Write the exports and their contracts under `out`; person and request truth rows
    `(dataset, record id, true id, labels)` as `munihub.resolve.evaluate` reads them."""
    from munihub.testing import exports

    data = out / "data"
    exports.generate(data, households, seed)
    dataset_of = {}
    for dataset, (file, fmt, shared, record_id, props) in SOURCES.items():
        agency, name = dataset.split(".")
        drop = data / name
        drop.mkdir()
        (data / file).rename(drop / file)
        dataset_of[FILE_SOURCE[file]] = dataset
        body = "".join(PROP.format(n=n, p=p, t=t, x=x) for n, p, t, x in props)
        (out / "contracts" / agency).mkdir(parents=True, exist_ok=True)
        (out / "contracts" / agency / f"{name}.yaml").write_text(CONTRACT.format(
            id=dataset, name=name, folder=drop.as_posix(), fmt=fmt, pattern=file, shared=shared,
            record_id=record_id, props=body), "utf-8")
    look_alikes = household_labels(households, seed)
    with (data / "truth_persons.csv").open(encoding="utf-8") as fh:
        persons = [(dataset_of[r["source"]], r["record_id"], r["person_id"],
                    tuple(x for x in r["phenomena"].split(";") if x) + look_alikes.get(r["person_id"], ()))
                   for r in csv.DictReader(fh)]
    with (data / "truth_requests.csv").open(encoding="utf-8") as fh:
        requests = [("rc137.calls", r["record_id"], r["request_group"],
                     tuple(x for x in r["phenomena"].split(";") if x)) for r in csv.DictReader(fh)]
    return persons, requests


def household_labels(households: int, seed: int) -> dict[str, tuple[str, ...]]:
    """Look-alike labels per person id, from the city the generator builds first from `seed`
    (its households are the first draws of `random.Random(seed)` in `exports.generate`)."""
    from munihub.testing import exports

    _, people = exports._households(random.Random(seed), households)
    labels: dict[str, tuple[str, ...]] = {}
    for c in people:
        others = [m for m in c.home.members if m is not c]
        mine = []
        if any(m.born == c.born and m.father == c.father for m in others):
            mine.append("twin")
        if any(m.last == c.last for m in others):
            mine.append("household_surname")
        if others:
            mine.append("household")
        labels[c.pid] = tuple(mine)
    return labels


# ---------------------------------------------------------------- run by each version

def drive(folder: Path) -> dict:
    """Sync every export and resolve in full with the munihub on sys.path; the store's clusters."""
    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.resolve.run import resolve_all

    settings = Settings(home=folder / "home", store_url=f"sqlite:///{folder / 'store.db'}",
                        contracts_dir=folder.parent / "contracts", schemas_dir=REPO_ROOT / "schemas")
    started = time.perf_counter()
    for dataset in SOURCES:
        pipeline.sync_source(dataset, settings)
    synced = time.perf_counter() - started
    engine = store.engine_for(settings)
    resolve_all(engine, settings, full=True)
    members: dict[str, dict[str, str]] = collections.defaultdict(dict)
    with engine.connect() as conn:
        loads = [dict(r) for r in conn.execute(sa.select(store.loads)).mappings()]
        m = store.entity_members
        for t, s, k, e in conn.execute(sa.select(m.c.entity_type, m.c.source, m.c.source_key, m.c.entity_id)):
            members[t][f"{s}|{k}"] = e
    return {"synced_s": round(synced, 2), "total_s": round(time.perf_counter() - started, 2), "members": members,
            "loads": {x["source"]: {"rows_in": x["rows_in"], "quarantined": x["rows_quarantined"]} for x in loads}}


def run_version(tree: Path, folder: Path) -> dict:
    return bench_mentions.run_version(tree, folder, Path(__file__).resolve())


# ---------------------------------------------------------------- scores

def score(persons: list[tuple], requests: list[tuple], result: dict) -> dict:
    """Persons and requests scored with per-label figures; a record the store lost is a singleton."""
    from munihub.resolve.evaluate import evaluate_members

    out = {}
    for what, rows, etype, id_col in (("persons", persons, "person", "person_id"),
                                      ("requests", requests, "service_request", "request_group")):
        members = dict(result["members"].get(etype, {}))
        for source, key, _, _ in rows:  # lost records stay in the score, each on its own
            ref = f"{source}|{key}"
            if ref not in members and f"{ref}#person" not in members:
                members[ref] = f"lost:{ref}"
        out[what] = evaluate_members(members, rows, id_col)
    out["loads"], out["synced_s"], out["total_s"] = result["loads"], result["synced_s"], result["total_s"]
    return out


def report(results: dict[str, dict]) -> None:
    names = list(results)
    print(f"{'':34}" + "".join(f"{n:>30}" for n in names))
    row = lambda label, f: print(f"{label:34}" + "".join(f"{f(results[n]):>30}" for n in names))  # noqa: E731
    fmt = "{precision:.4f}/{recall:.4f}/{f1:.4f}".format
    for src in SOURCES:
        row(f"{src} in/quarantined", lambda r, s=src: "{rows_in}/{quarantined}".format(**r["loads"][s]))
    row("sync seconds / with resolution", lambda r: f"{r['synced_s']:.1f} / {r['total_s']:.1f}")
    for what in ("persons", "requests"):
        for kind in ("pairwise", "bcubed"):
            row(f"{what} {kind} P/R/F1", lambda r, w=what, k=kind: fmt(**r[w][k]))
        print(f"{what} by phenomenon, pairwise P/R/F1 (records):")
        for label in results[names[-1]][what]["by_label"]:
            row(f"  {label}", lambda r, w=what, lb=label: "{} ({})".format(
                fmt(**r[w]["by_label"][lb]["pairwise"]), r[w]["by_label"][lb]["records"])
                if lb in r[w]["by_label"] else "-")


def main() -> None:
    from munihub.testing.exports import FROZEN_SEED

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=FROZEN_SEED, help=f"default: the frozen set ({FROZEN_SEED})")
    ap.add_argument("--against", default="8c06902", help="the previous version (a git revision; `none`: this tree only)")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    ap.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive), ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        work = Path(tmp)
        persons, requests = build(work, args.households, args.seed)
        frozen = " (the frozen set)" if args.seed == FROZEN_SEED else " (a tuning seed)"
        print(f"{len(persons):,} person records, {len(requests):,} 137 requests of {args.households:,} "
              f"households, seed {args.seed}{frozen}")
        results = {}
        if args.against != "none":  # a version older than the contracts' features cannot read them
            old = extract(args.against, work / "previous-tree")
            results[f"previous ({args.against})"] = score(persons, requests, run_version(old, work / "previous"))
        results["this tree"] = score(persons, requests, run_version(TREE, work / "current"))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")


if __name__ == "__main__":
    main()
