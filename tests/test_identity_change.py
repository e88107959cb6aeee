"""A contract that starts naming its record id (issue 15): the rows published under the former
key are moved at the publish that reads their records again, in the same transaction, so no
source record is held twice, nothing is lost and rows in = published + quarantined holds."""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.ingest import identity, loads

from test_pipeline import national_id
from test_record_identity import licences_db

DATA = Path(__file__).parent / "data" / "core"
A, B, C, D, E = (national_id(p) for p in ("001234567", "076543210", "112233445", "223344556", "334455667"))
T0, T1, T2 = "2024-01-01 10:00:00", "2024-02-01 10:00:00", "2024-03-01 10:00:00"
ROWS = [  # (licence_no, code_melli, fname, lname, birth, tel, updated_at)
    ("L-1", A, "علی", "احمدی", "1365/02/11", "09151234567", T0),
    ("L-2", A, "علی", "احمدی", "1365/02/11", "09127654321", T0),  # a renewal: keyed by national id, it replaced L-1
    ("L-3", B, "رضا", "کریمی", "1370/01/01", "09151112233", T0),
    ("L-4", C, "زهرا", "نوری", "1368/05/05", None, T0),
    ("L-5", D, "حسن", "اکبری", "1360/01/01", None, T0),
    (None, E, "مریم", "بی‌شماره", None, None, T0),  # no licence number: quarantined once the contract keys by it
]
RECORD_ID = "      - {property: recordId, value: [licence_no]}\n"


def _write_contract(folder: Path, keyed_by_record_id: bool) -> None:
    text = (DATA / "licences.yaml").read_text(encoding="utf-8")
    assert RECORD_ID in text
    if not keyed_by_record_id:  # the contract as it was: national id as the primary key
        text = text.replace(RECORD_ID, "").replace(
            "classification: personal, transformLogic: national_id}",
            "classification: personal, transformLogic: national_id, primaryKey: true}")
    (folder / "licences.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def source(tmp_path, store_url, monkeypatch):
    src = licences_db(tmp_path / "src.db", ROWS)
    folder = tmp_path / "contracts" / "testlic"
    folder.mkdir(parents=True)
    _write_contract(folder, keyed_by_record_id=False)
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    settings = Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                        schemas_dir=REPO_ROOT / "schemas", batch_size=2)

    def switch():
        _write_contract(folder, keyed_by_record_id=True)

    def touch(*ids, when=T1, **changes):
        with sqlite3.connect(src) as db:
            for i in ids:
                sets = ", ".join([f"{k}=?" for k in changes] + ["updated_at=?"])
                db.execute(f"UPDATE licences SET {sets} WHERE licence_no=?", [*changes.values(), when, i])
    return settings, switch, touch


def _rows(settings) -> dict[str, dict]:
    r = store.source_rows
    with store.engine_for(settings).connect() as conn:
        return {x.source_key: dict(x._mapping) for x in conn.execute(sa.select(r))}


def _one(settings, table):
    with store.engine_for(settings).connect() as conn:
        return [dict(x._mapping) for x in conn.execute(sa.select(table))]


def _balanced(result) -> bool:
    return result["rows_in"] == (result["rows_new"] + result["rows_changed"] + result["rows_unchanged"]
                                 + result["rows_quarantined"])


def test_rows_keyed_by_the_former_identity_move_when_their_records_are_read_again(source):
    settings, switch, touch = source
    first = pipeline.sync_source("testlic.licences", settings)
    assert set(_rows(settings)) == {A, B, C, D, E} and _balanced(first)
    assert first["copies_kept"] == 1  # L-1's record, which L-2 replaced under A, kept for matching (issue 16)
    pipeline.consolidate(settings)
    with store.engine_for(settings).connect() as conn:
        entity_of_a = conn.execute(sa.select(store.entity_members.c.entity_id).where(
            store.entity_members.c.source_key == A)).scalar_one()  # a person source: the row is the person
    before = _rows(settings)
    with store.engine_for(settings).begin() as conn:  # a steward's decision and a value set aside on the old keys
        conn.execute(store.match_decisions.insert().values(
            left_ref=f"testlic.licences|{B}", right_ref="clinic.patients|P-9", decision="no-match", decided_by="sara",
            decided_at=dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)))
        conn.execute(store.set_aside.insert().values(
            source="testlic.licences", load_id=first["load_id"], source_key=C, field="gender", value="؟",
            rule="enum", reason={"message": "gender: ؟ is not male or female"}, status="open"))

    switch()
    touch("L-1", "L-2", "L-3", "L-4")  # L-5 is not read again (an incremental source)
    second = pipeline.sync_source("testlic.licences", settings)
    rows = _rows(settings)
    [decision] = _one(settings, store.match_decisions)  # refs re-sorted: "clinic…" < "testlic…"
    assert (decision["left_ref"], decision["right_ref"]) == ("clinic.patients|P-9", "testlic.licences|L-3")
    assert [a["source_key"] for a in _one(settings, store.set_aside) if a["field"] == "gender"] == ["L-4"]
    # A's row held L-2 (the later copy replaced L-1): it becomes L-2, L-1 is new; B and C follow
    assert set(rows) == {"L-1", "L-2", "L-3", "L-4", D, E}
    assert (second["rows_rekeyed"], second.get("rows_retired", 0)) == (3, 0)
    # L-1 is a row of its own now: the copy kept under A, a key no row holds any more, goes
    assert second["copies_dropped"] == 1 and _one(settings, store.earlier_copies) == []
    assert (second["rows_new"], second["rows_changed"], second["rows_unchanged"]) == (1, 0, 3)
    assert _balanced(second)
    assert rows["L-2"]["first_load_id"] == before[A]["first_load_id"] == first["load_id"]  # lineage kept
    assert rows["L-2"]["record"] == before[A]["record"] and rows["L-1"]["record"]["mobile"] == "+989151234567"
    assert rows["L-3"]["record"] == before[B]["record"]
    assert {k: r["keyed_by"] for k, r in rows.items()} == {
        **{k: "recordId:licence_no" for k in ("L-1", "L-2", "L-3", "L-4")},
        D: "primaryKey:national_id", E: "primaryKey:national_id"}
    [known] = _one(settings, store.source_identity)
    assert known["identity"] == {"by": "recordId", "fields": ["licence_no"]}
    assert (known["former"], known["former_rows"]) == ({"by": "primaryKey", "fields": ["national_id"]}, 2)
    from munihub.report.status import source_status
    [status] = source_status(settings)
    assert status["rows_keyed_by_former_identity"] == 2  # `munihub status --format json` shows it

    # Resolution runs in full after the move and keeps the citizen's entity id.
    summary = pipeline.consolidate(settings)
    assert summary["mode"] == "full"
    with store.engine_for(settings).connect() as conn:
        members = dict(conn.execute(sa.select(store.entity_members.c.source_key, store.entity_members.c.entity_id)
                                    .where(store.entity_members.c.entity_type == "person")).all())
    assert members["L-2"] == entity_of_a and A not in members and not any("#copy-" in k for k in members)

    touch("L-5", when=T2)  # D's record is read again at last
    third = pipeline.sync_source("testlic.licences", settings)
    assert third["rows_rekeyed"] == 1 and set(_rows(settings)) == {"L-1", "L-2", "L-3", "L-4", "L-5", E}
    assert _one(settings, store.source_identity)[0]["former_rows"] == 1  # E's record has no licence number

    again = pipeline.sync_source("testlic.licences", settings)  # a re-run reads nothing new and moves nothing
    assert again["rows_in"] == 0 and "rows_rekeyed" not in again
    assert set(_rows(settings)) == {"L-1", "L-2", "L-3", "L-4", "L-5", E}
    with store.engine_for(settings).connect() as conn:
        ledger = conn.execute(sa.select(store.loads.c.rows_rekeyed, store.loads.c.rows_retired)
                              .where(store.loads.c.load_id == second["load_id"])).one()
    assert tuple(ledger) == (3, 0)


def test_a_row_no_single_record_inherits_is_retired_whole(source):
    settings, switch, touch = source
    first = pipeline.sync_source("testlic.licences", settings)
    held = _rows(settings)[A]
    switch()
    touch("L-2", tel="09350000000")  # the copy A's row held has changed since: neither record is its content
    touch("L-1")
    result = pipeline.sync_source("testlic.licences", settings)
    assert (result.get("rows_rekeyed", 0), result["rows_retired"]) == (0, 1) and _balanced(result)
    rows = _rows(settings)
    assert A not in rows and {"L-1", "L-2"} <= set(rows)
    [retired] = _one(settings, store.retired_rows)
    assert retired["source_key"] == A and retired["replaced_by"] == ["L-1", "L-2"]
    assert retired["record"] == held["record"] and retired["first_load_id"] == first["load_id"]
    assert retired["retired_load_id"] == result["load_id"] and "merged" in retired["reason"]


def test_rows_published_before_identities_were_recorded_are_recognised_by_their_records(source):
    settings, switch, touch = source
    pipeline.sync_source("testlic.licences", settings)
    with store.engine_for(settings).begin() as conn:  # as a store migrated to 0009 holds them
        conn.execute(store.source_rows.update().values(keyed_by=None))
        conn.execute(store.source_identity.delete())
    switch()
    touch("L-2", "L-3")
    result = pipeline.sync_source("testlic.licences", settings)
    assert result["rows_rekeyed"] == 2 and set(_rows(settings)) == {"L-2", "L-3", C, D, E}
    [known] = _one(settings, store.source_identity)
    assert known["former"] == {"by": "primaryKey", "fields": ["national_id"]} and known["former_rows"] == 3


def test_a_store_holding_rows_of_both_identities_before_they_were_recorded_moves_only_the_former(source):
    settings, switch, touch = source
    pipeline.sync_source("testlic.licences", settings)
    switch()
    touch("L-3")
    pipeline.sync_source("testlic.licences", settings)  # (as a store before 0009 would have done it:)
    with store.engine_for(settings).begin() as conn:   # B's row under the national id and under L-3
        conn.execute(store.source_rows.update().values(keyed_by=None))
        conn.execute(store.source_identity.delete())
        conn.execute(store.source_rows.insert().values(
            source="testlic.licences", source_key=B, entity_type="person", record=_rows(settings)["L-3"]["record"],
            record_hash=_rows(settings)["L-3"]["record_hash"], first_load_id="L0", load_id="L0",
            updated_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)))
    touch("L-3", "L-4", when=T2)
    result = pipeline.sync_source("testlic.licences", settings)
    rows = _rows(settings)
    assert B not in rows and C not in rows and {"L-3", "L-4"} <= set(rows)
    assert (result["rows_rekeyed"], result["rows_retired"]) == (1, 1)  # C rekeyed; B retired beside L-3
    [retired] = _one(settings, store.retired_rows)
    assert retired["source_key"] == B and retired["replaced_by"] == ["L-3"] and "beside" in retired["reason"]


def test_a_crash_inside_the_publish_leaves_the_former_rows_and_the_rerun_moves_them(source):
    settings, switch, touch = source
    pipeline.sync_source("testlic.licences", settings)
    before = _rows(settings)
    switch()
    touch("L-1", "L-2", "L-3", "L-4")

    class Crash(Exception):
        pass

    def hook(where):
        if where in ("after-rekey", "inside-publish"):
            raise Crash(where)

    load_id = pipeline.extract_and_stage("testlic.licences", settings)
    pipeline.check_load(load_id, settings)
    with pytest.raises(Crash):
        pipeline.publish_load(load_id, settings, crash_hook=hook)
    assert _rows(settings) == before and _one(settings, store.retired_rows) == []
    assert _one(settings, store.source_identity)[0]["identity"]["by"] == "primaryKey"
    loads.release_lease(store.engine_for(settings), "testlic.licences")  # the crashed process is gone
    result = pipeline.sync_source("testlic.licences", settings)
    assert result["rows_rekeyed"] == 3 and _balanced(result)
    assert set(_rows(settings)) == {"L-1", "L-2", "L-3", "L-4", D, E}


def test_the_identity_is_inferred_only_when_every_key_is_made_of_the_records_fields():
    rows = [("1|a", {"n": 1, "x": {"code": "a"}}), ("2|b", {"n": 2, "x": {"code": "b"}, "m": "2"})]
    assert identity.infer_identity(rows) == {"by": "primaryKey", "fields": ["n", "x.code"]}
    # a row keyed by a record id its record lacks is passed over (a store may hold both kinds)
    assert identity.infer_identity(rows + [("R-9", {"n": 9})]) == {"by": "primaryKey", "fields": ["n", "x.code"]}
    assert identity.infer_identity([("R-9", {"n": 9}), ("R-8", {"n": 8})]) is None
    assert identity.infer_identity([]) is None
    assert identity.signature({"by": "recordId", "fields": ["office", "no"]}) == "recordId:office+no"
