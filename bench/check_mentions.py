"""Issue 15's acceptance, checked as the held-out test tries it: sources brought in through
contracts alone, then, per source,

- no record lost to a key collision: published rows + records quarantined = distinct record
  ids the source sent (and rows in = published + quarantined for every load);
- no record quarantined for a non-essential field: every reason of every quarantined record
  is on the record id or a field the contract makes essential (primaryKey, required, essential);
- every record naming a citizen yields a person mention (a person row, or `ref#person`).
  "Naming" is read from the raw record, apart from the hub's parser: a national id, a phone,
  or a name that is not one of the placeholders exports write;
- bad input gets a one-line error naming the source, the record and the field (a record with
  an empty required field is added to one source, and `munihub sync`'s line is read).

On the data of `bench_mentions.py` (registry with re-registrations, 137 calls, payments; SQLite
tables) and `bench_exports.py` (five agencies' exports as CSV/JSON files), tuning seeds.

    .venv/bin/python bench/check_mentions.py [--people 600] [--households 200] [--seed 11]
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_exports  # noqa: E402  (sibling scripts: their data builders)
import bench_mentions  # noqa: E402

# What exports write where nobody is named (kept apart from munihub.persian.person_names).
PLACEHOLDERS = {"ناشناس", "ناشناخته", "شهروند", "شهروندگرامی", "شهروندمحترم", "بدوننام", "بینام", "نامشخص",
                "نامعلوم", "مجهول", "ندارد", "تماسگیرنده", "مشترک", "تست", "-", "--", "؟", "x", "xxx"}
TITLES = {"آقای", "آقا", "خانم", "حاج", "حاجیه", "جناب", "سرکار", "مهندس", "دکتر"}


def names_someone(name, *numbers) -> bool:
    """Whether a raw record names a citizen: any id or phone digits, or a real name word."""
    if any(re.search(r"[0-9۰-۹]{4}", str(n or "")) for n in numbers):
        return True
    words = [w for w in re.split(r"[\s،,\-–/|]+", str(name or "")) if w and w not in TITLES]
    return bool(words) and "".join(words).replace("\u200c", "") not in PLACEHOLDERS


def _raw_rows(folder: Path, dataset: str, contract) -> list[dict]:
    """The records a source sent, read from its table or export file (not through the hub)."""
    params = contract.params
    if contract.connector == "sql":
        db = Path(str(params["url"]).split("///", 1)[1].replace("${MUNIHUB_TEST_SRC}", ""))
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(f"SELECT * FROM {params['table']}")]
    out = []
    for path in sorted(Path(params.get("path") or contract.raw["servers"][0]["path"]).glob("*")):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8") as fh:
                out += list(csv.DictReader(fh))
        elif path.suffix == ".json":
            data = json.loads(path.read_text("utf-8"))
            out += data if isinstance(data, list) else data.get("records", [])
    return out


def check(folder: Path, contracts_dir: Path, datasets: list[str], people: dict[str, tuple]) -> dict:
    """Sync `datasets` with the munihub on sys.path and check each source; `people[dataset]` is
    (name field, number fields...) of its raw records."""
    import sqlalchemy as sa

    from munihub import contracts, pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.resolve.records import load_match_records

    settings = Settings(home=folder / "home", store_url=f"sqlite:///{folder / 'store.db'}",
                        contracts_dir=contracts_dir, schemas_dir=REPO_ROOT / "schemas")
    results = {d: pipeline.sync_source(d, settings) for d in datasets}
    engine = store.engine_for(settings)
    persons = {r["ref"] for r in load_match_records(engine).get("person", [])}  # rows and mentions
    out = {}
    for dataset in datasets:
        contract = contracts.contract_for(dataset, settings)
        essential = {f.name for f in contract.fields if f.must_read} | set(contract.record_id)
        raw = _raw_rows(folder, dataset, contract)
        id_fields = list(contract.record_id) or [f.source for f in contract.fields if f.primary_key]
        ids = ["|".join(str(r.get(f) or "").strip() for f in id_fields) for r in raw]
        with engine.connect() as conn:
            published = set(conn.execute(sa.select(store.source_rows.c.source_key)
                                         .where(store.source_rows.c.source == dataset)).scalars())
            quarantined = conn.execute(sa.select(store.quarantine.c.source_key, store.quarantine.c.reasons)
                                       .where(store.quarantine.c.source == dataset)).all()
        off_field = [(k, r.get("field")) for k, reasons in quarantined for r in reasons
                     if (r.get("field") or "").split(",")[0] not in essential]
        name_field, *numbers = people[dataset]
        person_source = contract.entity_type == "person"
        naming = [i for i, r in zip(ids, raw) if names_someone(r.get(name_field), *(r.get(n) for n in numbers))]
        missing = [i for i in naming if i in published
                   and f"{dataset}|{i}{'' if person_source else '#person'}" not in persons]
        r = results[dataset]
        out[dataset] = {
            "records": len(raw), "distinct_ids": len(set(ids) - {""}), "published": len(published),
            "quarantined": len(quarantined), "balanced": r["rows_in"] == r["rows_new"] + r["rows_changed"]
            + r["rows_unchanged"] + r["rows_quarantined"],
            "lost": len(set(ids) - {""} - published - {k for k, _ in quarantined}),
            "quarantined_off_essential": len(off_field), "off_examples": off_field[:3],
            "naming": len(naming), "naming_published_without_mention": len(missing), "missing_examples": missing[:3],
            "set_aside": sum((r.get("values_set_aside") or {}).values())}
    return out


def bad_input_line(folder: Path, contracts_dir: Path, dataset: str, record: dict) -> str:
    """Add one bad record to a SQLite source and return what `munihub sync` says about it."""
    import contextlib
    import io
    import os

    from munihub import contracts, store
    from munihub.cli.main import main
    from munihub.config import REPO_ROOT, Settings

    settings = Settings(home=folder / "home", store_url=f"sqlite:///{folder / 'store.db'}",
                        contracts_dir=contracts_dir, schemas_dir=REPO_ROOT / "schemas")
    contract = contracts.contract_for(dataset, settings)
    db = Path(str(contract.params["url"]).split("///", 1)[1])
    with sqlite3.connect(db) as conn:
        cols = ", ".join(record)
        conn.execute(f"INSERT INTO {contract.params['table']} ({cols}) VALUES ({', '.join('?' * len(record))})",
                     list(record.values()))
    env = {"MUNIHUB_HOME": str(settings.home), "MUNIHUB_STORE_URL": settings.store_url,
           "MUNIHUB_CONTRACTS": str(contracts_dir), "MUNIHUB_SCHEMAS": str(settings.schemas_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    err = io.StringIO()
    try:
        store.forget_engines()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main(["sync", dataset])
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return next((line for line in err.getvalue().splitlines() if "quarantined, e.g." in line), "")


MENTIONS_PEOPLE = {"registry.citizens": ("fname", "code_melli", "mobile"),
                   "rc137.calls": ("caller", "caller_nid", "caller_tel"),
                   "finance.pay": ("payer", "code_melli", "payer_mobile")}
EXPORTS_PEOPLE = {"registry.citizens": ("نام", "کد_ملی", "همراه", "تلفن"),
                  "rc137.calls": ("caller", "national_id", "phone"),
                  "finance.payments": ("payer", "code_melli", "mobile"),
                  "urbanplanning.permits": ("owner", "owner_nid"),
                  "licensing.licences": ("holder_first_name", "holder_national_id", "holder_mobile")}


def run(people: int, households: int, seed: int, work: Path) -> dict:
    out = {}
    data = work / "mentions" / "data"
    data.mkdir(parents=True)
    bench_mentions.build(data, people, seed)
    out["bench_mentions"] = check(data, data / "contracts", list(MENTIONS_PEOPLE), MENTIONS_PEOPLE)
    out["bad_input"] = bad_input_line(data, data / "contracts", "rc137.calls", {
        "call_id": "137-BAD-1", "caller": "علی احمدی", "caller_tel": "09151234567", "filed_at": "نامعلوم",
        "updated_at": "2030-01-01 00:00:00"})
    ex = work / "exports"
    ex.mkdir()
    bench_exports.build(ex, households, seed)
    out["bench_exports"] = check(ex, ex / "contracts", list(EXPORTS_PEOPLE), EXPORTS_PEOPLE)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=600)
    ap.add_argument("--households", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = run(args.people, args.households, args.seed, Path(tmp))
    for bench in ("bench_mentions", "bench_exports"):
        print(f"{bench}:")
        for dataset, r in found[bench].items():
            print(f"  {dataset:<24} records {r['records']:>6}  distinct ids {r['distinct_ids']:>6}  "
                  f"published {r['published']:>6}  quarantined {r['quarantined']:>4} "
                  f"(off essential fields {r['quarantined_off_essential']})  lost {r['lost']}  "
                  f"balanced {r['balanced']}  set aside {r['set_aside']:>4}  naming a citizen {r['naming']:>6}, "
                  f"published without a mention {r['naming_published_without_mention']} {r['missing_examples']}")
    print(f"bad input: {found['bad_input']}")
    ok = all(r["lost"] == 0 and r["quarantined_off_essential"] == 0 and r["balanced"]
             and r["naming_published_without_mention"] == 0
             for bench in ("bench_mentions", "bench_exports") for r in found[bench].values())
    print("acceptance:", "met" if ok and "137-BAD-1" in found["bad_input"] else "NOT met")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
