"""What a contract's switch to `recordId` costs at the sync that moves every row (issue 15).

A licences table of `--rows` records is synced keyed by national id, re-read whole, then the
contract names `recordId: licence_no` and the table is re-read whole again (every row rekeyed
inside that publish), then once more.  Wall and CPU seconds of each sync, on SQLite or on the
store `--store-url` names (a database of its own: every table is dropped at the end).

    .venv/bin/python bench/bench_identity_change.py [--rows 20000] [--store-url postgresql+psycopg2://…]
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TREE))
CONTRACT = TREE / "tests" / "data" / "core" / "licences.yaml"
RECORD_ID = "      - {property: recordId, value: [licence_no]}\n"


def write_contract(folder: Path, record_id: bool) -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    if not record_id:  # as the contract was: the national id is the key
        text = text.replace(RECORD_ID, "").replace("transformLogic: national_id}",
                                                   "transformLogic: national_id, primaryKey: true}")
    (folder / "licences.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--store-url")
    args = ap.parse_args()

    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.persian import national_id_check_digit

    tmp = Path(tempfile.mkdtemp(prefix="munihub-rekey-"))
    src = tmp / "src.db"
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE licences (licence_no TEXT, code_melli TEXT, fname TEXT, lname TEXT, birth TEXT, "
                   "tel TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO licences VALUES (?,?,?,?,?,?,?)", [
            (f"L-{i}", f"{i + 1:09d}{national_id_check_digit(f'{i + 1:09d}')}", "علی", "احمدی", "1365/02/11",
             "09151234567", "2024-01-01 10:00:00") for i in range(args.rows)])
    folder = tmp / "contracts" / "testlic"
    folder.mkdir(parents=True)
    write_contract(folder, False)
    os.environ["MUNIHUB_TEST_SRC"] = str(src)
    settings = Settings(home=tmp / "home", store_url=args.store_url or f"sqlite:///{tmp / 'store.db'}",
                        contracts_dir=tmp / "contracts", schemas_dir=REPO_ROOT / "schemas", batch_size=5000,
                        data_docs=False)

    def sync(label: str, when: str | None = None) -> None:
        if when:
            with sqlite3.connect(src) as db:
                db.execute("UPDATE licences SET updated_at=?", (when,))
        wall, cpu = time.perf_counter(), time.process_time()
        r = pipeline.sync_source("testlic.licences", settings)
        print(f"{label:<36} {time.perf_counter() - wall:6.2f} s wall {time.process_time() - cpu:6.2f} s CPU  "
              f"new {r['rows_new']}, unchanged {r['rows_unchanged']}, rekeyed {r.get('rows_rekeyed', 0)}")

    print(f"{args.rows:,} rows, store {settings.store_url.split(':')[0]}")
    sync("first sync, keyed by national id")
    sync("full re-read, same identity", "2024-02-01 00:00:00")
    write_contract(folder, True)
    sync("full re-read, now keyed by recordId", "2024-03-01 00:00:00")
    sync("full re-read after the switch", "2024-04-01 00:00:00")
    if args.store_url:
        with store.engine_for(settings).begin() as conn:
            for table in reversed(store.metadata.sorted_tables):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            conn.execute(sa.text("DROP TABLE IF EXISTS munihub_alembic_version"))


if __name__ == "__main__":
    main()
