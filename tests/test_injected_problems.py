"""Injected problems, end to end: each one is caught, no row is lost, held loads leave the
store as it was, and the stewards' report names the source, the field and the count.

A real SQLite source (`permits`) with the contract tests/data/quality/permits.yaml is loaded
once clean (20 rows), then one problem is injected into 20 newer rows and the pipeline runs.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.contracts import load_contract
from munihub.errors import QualityGateError
from munihub.report.build import write_report
from munihub.persian.ids import national_id_check_digit

CONTRACT = Path(__file__).parent / "data" / "quality" / "permits.yaml"
SOURCE = "testbuild.permits"
STATUSES = ["issued", "expired", "revoked"]


def national_id(first9: str) -> str:
    """A national id with a valid check digit: the package's one implementation."""
    return first9 + str(national_id_check_digit(first9))


def row(i: int, updated: str, **change) -> dict:
    base = {"id": i, "permit_no": f"P-{1000 + i}", "code_melli": national_id(f"2{i:03d}45678"),
            "owner": f"مالک {i}", "district": "منطقه ۳", "floors": str(i % 5 + 1),
            "status": STATUSES[i % 3], "issued": "1403/05/12", "updated_at": updated}
    return {**base, **change}


def insert(db: sqlite3.Connection, rows: list[dict]) -> None:
    cols = list(rows[0])
    db.executemany(f"INSERT INTO permits ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                   [tuple(r[c] for c in cols) for r in rows])


NEW = "2024-02-01 00:00:00"


def _dropped_column(db):
    db.execute("ALTER TABLE permits DROP COLUMN district")
    insert(db, [{k: v for k, v in row(100 + i, NEW).items() if k != "district"} for i in range(20)])


def _new_enum_value(db):
    insert(db, [row(100 + i, NEW, **({"status": "suspended"} if i < 8 else {})) for i in range(20)])


def _text_in_integer(db):
    insert(db, [row(100 + i, NEW, **({"floors": "سه طبقه"} if i < 6 else {})) for i in range(20)])


def _burst_of_nulls(db):
    insert(db, [row(100 + i, NEW, **({"owner": None} if i < 10 else {})) for i in range(20)])


def _half_size(db):
    insert(db, [row(100 + i, NEW) for i in range(9)])


def _bad_jalali_dates(db):
    bad = ["1403/07/31", "1403/13/01", "۱۴۰۲/۱۲/۳۰", "1403/00/10"]
    insert(db, [row(100 + i, NEW, **({"issued": bad[i]} if i < 4 else {})) for i in range(20)])


def _invalid_national_ids(db):
    insert(db, [row(100 + i, NEW, **({"code_melli": "1234567890"} if i < 7 else {})) for i in range(20)])


# case -> (inject, held?, where the report shows it: ("check"|"quarantine"|"set_aside", field, count));
# a bad value of a field the contract does not mark essential is set aside, its record published
CASES = {
    "dropped column": (_dropped_column, False, ("check", "district", 100.0)),
    "new enum value": (_new_enum_value, False, ("check", "status", 8)),
    "text in an integer field": (_text_in_integer, False, ("set_aside", "floors", 6)),
    "burst of nulls": (_burst_of_nulls, True, ("check", "owner_name", 50.0)),
    "half-size load": (_half_size, True, ("check", None, 55.0)),
    "bad Jalali dates": (_bad_jalali_dates, False, ("set_aside", "issued_on", 4)),
    "invalid national ids": (_invalid_national_ids, False, ("quarantine", "national_id", 7)),
}


def make_world(tmp_path: Path, store_url: str, monkeypatch, data_docs: bool = False):
    src = tmp_path / "src.db"
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE permits (id INTEGER PRIMARY KEY, permit_no TEXT, code_melli TEXT, owner TEXT, "
                   "district TEXT, floors TEXT, status TEXT, issued TEXT, updated_at TEXT)")
        insert(db, [row(i, "2024-01-01 00:00:00") for i in range(20)])
    contracts = tmp_path / "contracts" / "testbuild"
    contracts.mkdir(parents=True)
    shutil.copy(CONTRACT, contracts / "permits.yaml")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    settings = Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                        schemas_dir=REPO_ROOT / "schemas", batch_size=7, data_docs=data_docs)
    first = pipeline.sync_source(SOURCE, settings)
    assert (first["rows_in"], first["rows_new"], first["rows_quarantined"]) == (20, 20, 0)
    return settings, src


def dump(engine) -> list:
    """The published state: every row's key and hash, and the cursor."""
    with engine.connect() as conn:
        rows = sorted((r.source_key, r.record_hash) for r in conn.execute(sa.select(store.source_rows)))
        cur = [tuple(c) for c in conn.execute(sa.select(store.cursors.c.source, store.cursors.c.cursor))]
    return [rows, cur]


def run_case(settings, src, inject) -> tuple[bool, list, list]:
    """Inject, run the pipeline; (held?, dump before, dump after)."""
    engine = store.engine_for(settings)
    before = dump(engine)
    with sqlite3.connect(src) as db:
        inject(db)
    try:
        pipeline.sync_source(SOURCE, settings)
        held = False
    except QualityGateError as exc:
        assert "store was not changed" in exc.hint
        held = True
    return held, before, dump(engine)


def assert_no_row_lost(engine, held: bool, before: list) -> None:
    """Published loads balance; a held load kept its quarantine and left the cursor where it was,
    so its staged rows are read again by the next run."""
    with engine.connect() as conn:
        loads = conn.execute(sa.select(store.loads).order_by(store.loads.c.started_at)).mappings().all()
        for load in loads:
            kept = conn.execute(sa.select(sa.func.count()).select_from(store.quarantine)
                                .where(store.quarantine.c.load_id == load["load_id"])).scalar()
            assert kept == load["rows_quarantined"], load["load_id"]
            if load["status"] == "published":
                assert load["rows_in"] == load["rows_new"] + load["rows_changed"] + load["rows_unchanged"] + \
                    load["rows_quarantined"]
    assert [load["status"] for load in loads] == ["published", "held" if held else "published"]
    if held:
        assert dump(engine)[1] == before[1]  # cursor unchanged: the held rows will be re-read


def report_for(engine, tmp_path: Path, settings) -> dict:
    contract = load_contract(settings.contracts_dir / "testbuild" / "permits.yaml",
                             schemas_dir=settings.schemas_dir)
    write_report(engine, tmp_path / "report", contracts=[contract], run_id="injected")
    data = json.loads((tmp_path / "report" / "run-injected.json").read_text(encoding="utf-8"))
    return next(s for s in data["sources"] if s["source"] == SOURCE)


def assert_reported(source: dict, where: tuple, held: bool) -> None:
    kind, field, count = where
    assert source["held"] is held
    if kind == "quarantine":
        found = [r for r in source["quarantine"]["reasons"] if r["field"] == field]
        assert found and found[0]["count"] == count, source["quarantine"]
        assert source["last_load"]["rows_quarantined"] == count
    elif kind == "set_aside":
        assert source["last_load"]["values_set_aside"] == {field: count}
        assert source["last_load"]["rows_quarantined"] == 0
    else:
        bad = [c for c in source["checks"]["items"] if c["status"] in {"failed", "warning"}
               and c["field"] == field and c["observed"] == count]
        assert bad, source["checks"]["items"]
        assert all(c["status"] == ("failed" if c["severity"] == "error" else "warning") for c in bad)
        if held:
            assert any(c["status"] == "failed" for c in bad)


@pytest.mark.parametrize("case", list(CASES))
def test_injected_problem_is_caught_and_nothing_is_lost(case, tmp_path, monkeypatch):
    inject, expect_held, where = CASES[case]
    settings, src = make_world(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    held, before, after = run_case(settings, src, inject)
    engine = store.engine_for(settings)
    assert held is expect_held
    if held:
        assert after == before
    else:
        assert after != before and len(after[0]) > len(before[0])
    assert_no_row_lost(engine, held, before)
    assert_reported(report_for(engine, tmp_path, settings), where, held)


def test_burst_of_nulls_is_held_on_each_store_engine(tmp_path, monkeypatch, store_url):
    settings, src = make_world(tmp_path, store_url, monkeypatch)
    held, before, after = run_case(settings, src, _burst_of_nulls)
    engine = store.engine_for(settings)
    assert held and after == before
    assert_no_row_lost(engine, held, before)
    assert_reported(report_for(engine, tmp_path, settings), CASES["burst of nulls"][2], held)


def test_held_rows_are_read_again_once_the_source_is_fixed(tmp_path, monkeypatch):
    settings, src = make_world(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    held, before, _ = run_case(settings, src, _burst_of_nulls)
    assert held
    with sqlite3.connect(src) as db:  # the agency fixes the owners; the rows keep their timestamp
        db.execute("UPDATE permits SET owner = 'مالک' WHERE owner IS NULL")
    result = pipeline.sync_source(SOURCE, settings)
    assert (result["rows_in"], result["rows_new"], result["rows_quarantined"]) == (20, 20, 0)
    assert len(dump(store.engine_for(settings))[0]) == 40


def test_profile_drift_quarantine_share_and_data_docs_through_the_pipeline(tmp_path, monkeypatch):
    settings, src = make_world(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch,
                               data_docs=True)  # MUNIHUB_DATA_DOCS=1
    held, _, _ = run_case(settings, src, _dropped_column)
    assert not held
    with sqlite3.connect(src) as db:  # then a load where a third of the ids are bad
        insert(db, [{k: v for k, v in row(200 + i, "2024-03-01 00:00:00",
                                          **({"code_melli": "1234567890"} if i < 7 else {})).items()
                     if k != "district"} for i in range(20)])
    pipeline.sync_source(SOURCE, settings)
    engine = store.engine_for(settings)
    with engine.connect() as conn:
        checks = [c for (c,) in conn.execute(sa.select(store.loads.c.checks).order_by(store.loads.c.started_at))]
    emptied = next(c for c in checks[1] if c["metric"] == "emptiedFields")
    assert (emptied["status"], emptied["field"]) == ("warning", "district")
    share = next(c for c in checks[2] if c["metric"] == "quarantineShare")
    assert (share["status"], share["observed"]) == ("warning", 35.0)
    source = report_for(engine, tmp_path, settings)
    docs = settings.reports / source["checks"]["data_docs"]  # relative: the report folder can be served
    assert docs.is_file() and docs.is_relative_to(settings.reports / "data-docs" / SOURCE)
    assert len(list((docs.parent / "validations").rglob("*.html"))) == 3  # one page per load, none lost
