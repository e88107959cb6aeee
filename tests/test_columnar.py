"""A batch mapped and validated a column at a time stages exactly what record-by-record staging
stages: the same rows, keys, stored values and hashes, the same quarantine reasons and the
same values set aside, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from munihub import contracts, store
from munihub.config import REPO_ROOT, Settings
from munihub.ingest import columnar
from munihub.ingest.connector import Batch, Rows
from munihub.ingest.loads import begin_load
from munihub.ingest.mapping import phone_field
from munihub.ingest.quality_measure import StagedColumns
from munihub.ingest.stage import _at, check_record, stage_batches
from munihub.ingest.validate import errors_of
from munihub.persian.transforms import phones_read, reader
from munihub.testing.synthetic import national_id_check

DATA = Path(__file__).parent / "data" / "core"

KEYED = """\
apiVersion: v3.1.0
kind: DataContract
id: coltest.people
name: people
version: 1.0.0
status: active
servers:
  - server: s
    type: custom
    customProperties:
      - {property: connector, value: sql}
      - {property: url, value: "sqlite:///x.db"}
      - {property: table, value: people}
schema:
  - name: people
    physicalName: people
    customProperties:
      - {property: sharedSchema, value: person}
    properties:
      - {name: national_id, physicalName: nid, logicalType: string, transformLogic: national_id, primaryKey: true,
         primaryKeyPosition: 1, required: true}
      - {name: first_name, physicalName: fname, logicalType: string, transformLogic: person_name, required: true}
      - {name: last_name, physicalName: lname, logicalType: string, transformLogic: person_name}
      - {name: full_name, logicalType: string, transformLogic: text, transformSourceObjects: [fname, lname]}
      - {name: title, physicalName: title, logicalType: string, transformLogic: title}
      - name: gender
        physicalName: sex
        logicalType: string
        transformLogic: text
        customProperties:
          - property: valueMap
            value: {مرد: male, زن: female, "1": male, "2": female}
      - {name: birth_date, physicalName: born, logicalType: date, transformLogic: date}
      - {name: mobile, physicalName: tel, logicalType: string, transformLogic: "mobile:51"}
      - {name: phone, physicalName: tel2, logicalType: string, transformLogic: phone}
      - {name: postal_code, physicalName: zip, logicalType: string, transformLogic: postal_code}
      - {name: email, physicalName: mail, logicalType: string}
      - {name: address.district, physicalName: region, logicalType: string, transformLogic: text}
      - {name: address.detail, physicalName: addr.line, logicalType: string, transformLogic: text}
      - {name: address.postal_code, physicalName: zip, logicalType: string, transformLogic: postal_code}
"""


def _nid(first9: str) -> str:
    return first9 + national_id_check(first9)


NIDS = st.from_regex(r"[0-9]{9}", fullmatch=True).map(_nid) | st.sampled_from(
    ["1234567890", "0000000000", "۰۰۱۲۳۴۵۶۷۸", "12345678", 12345678, "", None, "abc", 7.5, True])
NAMES = st.sampled_from(["علی", "محمد رضا", "سید محمد", "ناشناس", "علي", " ", "", None, "x" * 70, 12, "زهرا\u200c",
                         "فاطمه", "ـــ", "\u200f"])
TEXT = NAMES | st.text(max_size=6) | st.sampled_from(["a\x00b", "\ud800", "منطقه ۹", 3, 2.5, float("nan"), "NULL",
                                                      " nan "])
GOOD = st.fixed_dictionaries({
    "nid": st.from_regex(r"[0-9]{9}", fullmatch=True).map(_nid).filter(lambda v: len(set(v)) > 1),
    "fname": st.sampled_from(["علی", "محمد رضا", "سید محمد", "علي", "زهرا\u200c"]),
    "lname": st.sampled_from(["احمدی", "كريمي", "رضایی"]), "sex": st.sampled_from(["مرد", "زن", "1", "2"]),
    "born": st.sampled_from(["1365/02/11", "۱۳۶۵/۰۲/۱۱", "1988-03-21"]),
    "tel": st.sampled_from(["09151234567", "+989151234567", "۰۹۱۵۱۲۳۴۵۶۷"]),
    "tel2": st.sampled_from(["05138001234", "051-3800-1234"]),
    "zip": st.sampled_from(["9187654321", "۹۱۸۷۶۵۴۳۲۱"]), "mail": st.sampled_from(["a@b.ir", "x.y@z.com"]),
    "region": st.sampled_from(["منطقه ۹", "منطقه 1"]),
    "addr": st.fixed_dictionaries({"line": st.sampled_from(["کوچه ۱"])}),
    "licence_no": st.sampled_from(["L-1", "L-2", "۳"]), "birth": st.sampled_from(["1365/02/11"])})
BAD_VALUES = {
    "nid": NIDS, "fname": NAMES, "lname": NAMES, "title": NAMES,
    "sex": st.sampled_from(["other", "", None, True, 1]),
    "born": st.sampled_from(["2024-02-30", "", None, "tomorrow", 19880321]),
    "tel": st.sampled_from(["051-38001234", "38001234", "12", "", None, 9151234567, "09151234567 - 05138001234",
                            "همراه: 09151234567", "09151234567، 09121234567", "38001234 - 09151234567"]),
    "tel2": st.sampled_from(["09151234567", "12", "", None, "05138001234 / 09151234567", "05138001234 داخلی 12"]),
    "zip": st.sampled_from(["1111111111", "91876", None, 9187654321]),
    "mail": st.sampled_from(["not-an-email", "", None, 5]),
    "region": TEXT, "addr": st.fixed_dictionaries({"line": TEXT}) | st.sampled_from([None, "flat", {"x": 1}]),
    "licence_no": st.sampled_from(["", None, 4, 5.0]), "code_melli": NIDS, "birth": st.sampled_from(["bad", None]),
}
ONE_BAD = st.sampled_from(sorted(BAD_VALUES)).flatmap(lambda k: BAD_VALUES[k].map(lambda v: {k: v}))
# a good record with none, one or a few values made bad, so the plain path is exercised at its edges
RAW = st.builds(lambda good, bad: {**good, "code_melli": good["nid"], **{k: v for d in bad for k, v in d.items()}},
                GOOD, st.lists(ONE_BAD, max_size=3))
BATCH = st.lists(st.one_of(RAW, RAW, RAW, RAW, RAW, RAW, st.sampled_from([None, [], "text"])), min_size=1, max_size=30)


@pytest.fixture(scope="module")
def contracts_under_test(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("columnar")
    (tmp / "keyed.yaml").write_text(KEYED, encoding="utf-8")
    shutil.copy(DATA / "licences.yaml", tmp / "licences.yaml")
    settings = Settings(home=tmp, store_url="sqlite://", contracts_dir=tmp, schemas_dir=REPO_ROOT / "schemas")
    return [(c, errors_of(c, settings)) for c in (contracts.load_contract(tmp / "keyed.yaml"),
                                                   contracts.load_contract(tmp / "licences.yaml"))]


def test_both_contracts_get_a_column_plan(contracts_under_test):
    for contract, check in contracts_under_test:
        assert columnar.plan_for(contract, check) is not None, contract.id
    contract, check = contracts_under_test[0]
    assert columnar.plan_for(contract, lambda record: check(record)) is None  # not a compiled schema: by record


@hsettings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(batch=BATCH, which=st.sampled_from([0, 1]))
def test_a_plain_record_is_staged_exactly_as_record_by_record(contracts_under_test, batch, which):
    contract, check = contracts_under_test[which]
    plan = columnar.plan_for(contract, check)
    for raw, fast in zip(batch, plan.stage_batch(batch)):
        record, key, reasons, aside = check_record(contract, raw, check)
        if fast is None:  # left to check_record: fine only if it had something to say, or a value to move
            assert reasons or aside or key is None or _moved(contract, raw, record), raw
            continue
        assert not reasons and not aside, raw
        assert (fast[0], json.loads(fast[1]), fast[2]) == (key, record, store.record_hash(record)), raw
        # the fields it lacks, which the dataset checks count as nulls (`stage._count_absent`)
        absent = [j for j, r in enumerate(plan.fields) if _at(record, r.f.name.split(".")) is None]
        assert fast[3] == sum(1 << j for j in absent), raw


def _moved(contract, raw, record) -> bool:
    """A phone filed under another field than its own (the record-by-record path files it)."""
    if not isinstance(raw, dict):
        return False
    for f in contract.fields:
        if f.transform and f.transform.startswith(("mobile", "phone")) and raw.get(f.source) not in (None, ""):
            try:
                if phone_field(f.name, reader(f.transform)(raw[f.source])) != f.name:
                    return True
                if len(phones_read(f.transform, raw[f.source])) > 1:  # a second number, filed too
                    return True
            except ValueError:
                continue
    return False


def test_the_plain_path_takes_every_record_of_a_clean_batch(contracts_under_test):
    contract, check = contracts_under_test[0]
    clean = [{"nid": _nid(f"{i:09d}"), "fname": "علی", "lname": "احمدي", "sex": "مرد", "born": "1365/02/11",
              "tel": "09151234567", "zip": "9187654321", "region": "منطقه ۹", "addr": {"line": "کوچه ۱"}}
             for i in range(1, 200)]
    staged = columnar.plan_for(contract, check).stage_batch(clean)
    assert all(s is not None for s in staged)
    assert json.loads(staged[0][1])["last_name"] == "احمدی"  # normalized, Arabic yeh made Persian


def test_a_batch_with_every_field_is_written_and_hashed_as_record_by_record(contracts_under_test):
    """The common batch (every record has every field and a key) is written from one template
    a column at a time and hashed by chained maps: the same texts and `store.record_hash`es as
    record by record, and the same from the records as `Rows` as from dicts."""
    for contract, check in contracts_under_test:
        clean = [{"nid": _nid(f"{i:09d}"), "code_melli": _nid(f"{i:09d}"), "licence_no": f"L-{i}", "fname": "علی",
                  "lname": "احمدي", "title": "دکتر", "sex": "مرد" if contract.key else "male", "born": "1365/02/11", "birth": "1365/02/11",
                  "tel": "09151234567", "tel2": "05138001234", "zip": "9187654321", "mail": "a@b.ir",
                  "region": "منطقه ۹", "addr": {"line": f"کوچه {i}"}} for i in range(1, 60)]
        plan = columnar.plan_for(contract, check)
        for keep_order in (True, False):
            staged = plan.stage_batch(clean, keep_order=keep_order)
            assert all(s is not None for s in staged), contract.id
            for raw, (key, text, digest, absent) in zip(clean, staged):
                record, want_key, _, _ = check_record(contract, raw, check)
                want, hashed = store.encode_json(record), store.record_hash(record)
                if not keep_order:  # the hashed text as stored, both as the UTF-8 bytes COPY sends
                    want = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
                    hashed = hashed.encode()
                assert (key, text, digest) == (want_key, want, hashed)
            rows = Rows({name: [raw[name] for raw in clean] for name in clean[0]}, len(clean))
            assert plan.stage_batch(rows, keep_order=keep_order) == staged
            for field in plan.fields:  # as a column of distinct values is read: a column at a time, no cache
                field.uncached = 1
            assert plan.stage_batch(rows, keep_order=keep_order) == staged


def _staged(engine, load_id):
    with engine.connect() as conn:
        staged = [(r.seq, r.source_key, r.record, r.record_hash, r.position) for r in conn.execute(
            sa.select(store.staged_rows).where(store.staged_rows.c.load_id == load_id)
            .order_by(store.staged_rows.c.seq))]
        bad = [(r.position, r.source_key, r.raw, r.reasons) for r in conn.execute(
            sa.select(store.quarantine).where(store.quarantine.c.load_id == load_id).order_by(store.quarantine.c.id))]
        held = [(r.position, r.source_key, r.field, r.value, r.rule, r.reason) for r in conn.execute(
            sa.select(store.set_aside).where(store.set_aside.c.load_id == load_id).order_by(store.set_aside.c.id))]
    return staged, bad, held


def test_a_load_stages_the_same_rows_quarantine_and_set_aside_through_either_path(store_url, contracts_under_test):
    """Through the store (COPY on PostgreSQL): every table a load writes is the same."""
    import random
    engine = store.open_store(store_url)
    rng = random.Random(5)
    names = ["علی", "ناشناس", "", None, "سيد رضا", "x" * 70]
    tels = ["09151234567", "051-38001234", "38001234", "12", None]
    for which, (contract, check) in enumerate(contracts_under_test):
        batches = []
        for b in range(4):
            records = []
            for i in range(50):
                n = b * 50 + i
                nid = _nid(f"{n + 1:09d}") if rng.random() > 0.1 else rng.choice(["1234567890", None, "۰۰۱"])
                records.append({"nid": nid, "code_melli": nid,
                                "licence_no": rng.choice([f"L-{n}", f"L-{n}", None, "۷"]),
                                "fname": rng.choice(names), "lname": rng.choice(names), "tel": rng.choice(tels),
                                "sex": rng.choice(["مرد", "2", "x", None]), "born": rng.choice(["1365/02/11", "bad"]),
                                "zip": rng.choice(["9187654321", "1111111111", None]),
                                "addr": {"line": rng.choice(["کوچه ۱", "", None])}, "region": rng.choice(names)})
            records.append("not a record")
            batches.append(Batch(records, cursor={"n": b}, where=f"batch {b}"))
        fast_id, _ = begin_load(engine, contract)
        slow_id, _ = begin_load(engine, contract)
        fast = stage_batches(engine, contract, fast_id, batches, check)
        slow = stage_batches(engine, contract, slow_id, batches, lambda record: check(record))  # by record
        assert (fast.rows_in, fast.staged, fast.quarantined, fast.set_aside) == \
            (slow.rows_in, slow.staged, slow.quarantined, slow.set_aside)
        a, b = _staged(engine, fast_id), _staged(engine, slow_id)
        assert a == b  # (positions and load ids aside: the same rows, in the same order)
        assert a[0] and a[1] and (a[2] or which == 0)
        for load_id in (fast_id, slow_id):
            assert 0 < _profile_agrees(engine, contract, load_id) < sum(len(b.records) for b in batches)


def _profile_agrees(engine, contract, load_id) -> int:
    """What staging counted for the load's checks is what their SQL pass reads (rows, each
    field's nulls, the key field's objects: tests/test_staged_profile.py); the rows staged."""
    key = contract.key[0] if len(contract.key) == 1 and not contract.record_id else None
    fields = [f.name for f in contract.fields]
    with engine.connect() as conn:
        profile = conn.execute(sa.select(store.loads.c.staged_profile).where(store.loads.c.load_id == load_id)).scalar()
    counted, in_sql = (StagedColumns(engine, load_id, key, fields, profile=p) for p in (profile, None))
    assert (counted.total, counted.nulls(fields), counted._key_objects) == \
        (in_sql.total, in_sql.nulls(fields), in_sql._key_objects)
    assert any(in_sql.nulls(fields).values())  # fields missing from some records: counted, not all zero
    return in_sql.total


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "text"])
def test_a_clean_batch_is_staged_as_one_copy_text_with_the_same_rows(store_url, contracts_under_test, monkeypatch,
                                                                     binary):
    """A batch whose every record took the plain path goes to staged_rows as COPY data built a
    column at a time (PostgreSQL): in COPY's binary format on a UTF-8 connection, every batch;
    as text otherwise, where a batch with a value COPY must escape (a quote or backslash JSON
    escapes with a backslash, a tab in a position) takes the row path.  Both stage what record
    by record does."""
    from munihub.ingest import stage

    contract, check = contracts_under_test[0]
    built = []
    plain_copy = stage._plain_copy
    monkeypatch.setattr(stage, "_plain_copy", lambda *a: built.append(plain_copy(*a)) or built[-1])
    if not binary:
        monkeypatch.setattr(stage, "_utf8_client", lambda engine: False)
    engine = store.open_store(store_url)

    def batch(b, line, positions=None):
        return Batch([{"nid": _nid(f"{b * 100 + i:09d}"), "fname": "علی", "lname": "احمدي", "sex": "مرد",
                       "born": "1365/02/11", "tel": "09151234567", "zip": "9187654321", "region": "منطقه ۹",
                       "addr": {"line": line(i)}} for i in range(1, 100)], cursor={"n": b}, where=f"batch {b}",
                     positions=positions)

    batches = [batch(1, lambda i: f"کوچه {i}"), batch(2, lambda i: 'کوچه "گل" \\ ۲' if i == 7 else "کوچه ۲"),
               batch(3, lambda i: f"پلاک {i}", positions=["sheet 1 row 2", "sheet 1 row 3"]),
               batch(4, lambda i: f"پلاک {i}", positions=["sheet\t2 \\ row 2"])]
    fast_id, _ = begin_load(engine, contract)
    slow_id, _ = begin_load(engine, contract)
    fast = stage_batches(engine, contract, fast_id, batches, check)
    slow = stage_batches(engine, contract, slow_id, batches, lambda record: check(record))  # by record
    assert fast.staged == slow.staged == 396
    assert _staged(engine, fast_id) == _staged(engine, slow_id)
    assert _profile_agrees(engine, contract, fast_id) == _profile_agrees(engine, contract, slow_id) == 396
    positions = [row[-1] for row in _staged(engine, fast_id)[0]]  # the checks name repeated keys by them
    assert positions[:2] == ["batch 1 #1", "batch 1 #2"] and positions[-199:-195] == \
        ["batch 2 #99", "sheet 1 row 2", "sheet 1 row 3", "batch 3 #3"] and positions[-99:-97] == \
        ["sheet\t2 \\ row 2", "batch 4 #2"]
    if engine.dialect.name == "postgresql":
        assert [data.__class__ for data in built] == ([bytes] * 4 if binary else [str, type(None), str, type(None)])
    else:
        assert built == []  # SQLite: multi-row inserts of the rows


def test_staged_rows_in_copys_binary_format_read_back_as_given(store_url):
    """`store.staged_copy_binary`: keys, records (one of 8 KiB and more, whose length is not in
    the lengths' table), hashes and positions with tabs, backslashes, quotes and Persian text
    read back from staged_rows as they were given."""
    engine = store.open_store(store_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    records = [{"a": "کوچه\t\\ \"گل\"", "n": 1}, {"a": "x" * 9000 + "ی", "n": [2, None]}, {}]
    keys = ["k\t1", "کلید ۲", "3"]
    texts = [json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for r in records]
    digests = [store.record_hash(r) for r in records]
    positions = ["sheet\t1 \\ row 2", "#2", "خط ۳"]
    data = store.staged_copy_binary("L-binary", 5, *([v.encode() for v in column]
                                                     for column in (keys, texts, digests, positions)))
    with engine.begin() as conn:
        store.copy_text(conn, store.staged_rows, ["load_id", "seq", "source_key", "record", "record_hash", "position"],
                        data)
        t = store.staged_rows
        got = [tuple(r) for r in conn.execute(sa.select(t.c.seq, t.c.source_key, t.c.record, t.c.record_hash, t.c.position)
                                              .where(t.c.load_id == "L-binary").order_by(t.c.seq))]
        conn.execute(t.delete().where(t.c.load_id == "L-binary"))
    assert got == list(zip([5, 6, 7], keys, records, digests, positions))


def test_a_column_of_distinct_values_read_without_the_cache_stages_the_same(contracts_under_test):
    """After a batch whose values were nearly all new a field reads the next batches without
    its cache (ids, phones, addresses): the same staged rows as a fresh plan's, cache on."""
    import random
    contract, check = contracts_under_test[0]
    rng = random.Random(7)

    def batch(b):
        out = []
        for i in range(1200):
            n = b * 1200 + i + 1
            out.append({"nid": _nid(f"{n:09d}") if i % 97 else "1234567890", "fname": "علی", "lname": "احمدی",
                        "sex": "مرد", "born": "1365/02/11", "tel": f"0915{n:07d}" if i % 89 else "051-38001234",
                        "zip": f"91{rng.randrange(10 ** 8):08d}", "region": "منطقه ۹",
                        "addr": {"line": f"کوچه {n}" if i % 83 else None}})
        return out

    reused = columnar.plan_for(contract, check)
    reused.stage_batch(batch(0))
    by_name = {r.f.name: r for r in reused.fields}
    assert by_name["national_id"].uncached and by_name["mobile"].uncached and not by_name["first_name"].uncached
    for b in (1, 2):
        records = batch(b)
        assert reused.stage_batch(records) == columnar.plan_for(contract, check).stage_batch(records)


@hsettings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_a_column_read_at_once_gives_each_values_outcome(contracts_under_test, data):
    """`outcomes` (transform mapped over the column, the schema asked of the whole column,
    fragments joined in C) gives exactly `outcome` value by value, on clean columns and on
    columns with one bad, blank, misfiled or non-text value."""
    contract, check = contracts_under_test[0]
    plan = columnar.plan_for(contract, check)
    reader_ = data.draw(st.sampled_from(plan.fields))
    key = {"addr.line": "addr", "title": "fname"}.get(reader_.f.source, reader_.f.source or "fname")
    good = GOOD.map(lambda g: g[key]["line"] if key == "addr" else g[key])
    bad = TEXT if key == "addr" else BAD_VALUES[key]
    values = data.draw(st.lists(good, min_size=1, max_size=8) | st.lists(good | bad, max_size=8))
    assert reader_.outcomes(values) == [reader_.outcome(v) for v in values]


def test_a_clean_column_of_ids_phones_and_codes_takes_the_column_read(contracts_under_test, monkeypatch):
    contract, check = contracts_under_test[0]
    plan = columnar.plan_for(contract, check)
    by_name = {r.f.name: r for r in plan.fields}
    columns = {"national_id": [_nid(f"{i:09d}") for i in range(1, 50)], "mobile": ["09151234567", "۰۹۱۵۱۲۳۴۵۶۸"],
               "postal_code": ["9187654321", "۹۱۸۷۶۵۴۳۲۲"], "address.detail": ["کوچه ۱", "كوچه 2"]}
    for name, values in columns.items():
        r = by_name[name]
        monkeypatch.setattr(r, "outcome", lambda value: pytest.fail(f"{name}: read value by value"))
        got = r.outcomes(values)
        assert all(isinstance(g, tuple) for g in got) and len(got) == len(values)
    # text the store's JSON columns refuse (NUL, a lone surrogate) goes value by value, to check_record
    for name, values in (("email", ["a@b.ir", "a\x00@b.ir"]), ("email", ["a@b.ir", "x\ud800@b.ir"])):
        r = by_name[name]
        monkeypatch.undo()
        assert r.outcomes(values)[1] is columnar.SLOW and r.outcomes(values) == [r.outcome(v) for v in values]


def test_rows_read_as_the_list_of_dicts_they_stand_for():
    """A connector may hand a batch's records a column at a time (`Rows`); read as a sequence
    they are the records, each made a dict only when asked for."""
    import pickle

    rows = Rows({"id": (1, 2, 3), "name": ["علی", None, "رضا"]}, 3)
    records = [{"id": 1, "name": "علی"}, {"id": 2, "name": None}, {"id": 3, "name": "رضا"}]
    assert len(rows) == 3 and list(rows) == records and rows == records
    assert rows[0] == records[0] and rows[-1] == records[-1] and rows[1:] == records[1:]
    assert isinstance(rows[1:], Rows) and len(rows[5:]) == 0 and list(rows[::2]) == records[::2]
    with pytest.raises(IndexError):
        rows[3]
    assert pickle.loads(pickle.dumps(rows)) == records  # (the forked map helper gets a batch so)
    assert list(Rows({}, 2)) == [{}, {}]


def test_a_batch_of_rows_stages_what_the_same_records_as_dicts_stage(store_url, contracts_under_test):
    """Records handed a column at a time (`Rows`, the sql connector's form) stage the same rows,
    quarantine and set-aside values as the same records as dicts, including the records that
    leave the column path (a bad value, a blank required field, an unknown gender) and a
    column whose name the contract spells otherwise (in capitals) and a dotted source (addr.line)."""
    from munihub.ingest.mapping import named_as_contract

    engine = store.open_store(store_url)
    for contract, check in contracts_under_test:
        columns = {"nid": [], "code_melli": [], "licence_no": [], "fname": [], "lname": [], "tel": [],
                   "sex": [], "born": [], "birth": [], "zip": [], "REGION": [], "addr": []}  # (the contract says "region")
        for n in range(120):
            nid = _nid(f"{n + 1:09d}") if n % 17 else ["1234567890", None, 12345678][n % 3]
            for name, value in (("nid", nid), ("code_melli", nid), ("licence_no", f"L-{n}" if n % 13 else None),
                                ("fname", ["علی", "سيد رضا", "", "x" * 70][n % 4] if n % 5 else "محمد"),
                                ("lname", "احمدي"), ("tel", ["09151234567", "051-38001234", "12"][n % 3]),
                                ("sex", ["مرد", "2", "x"][n % 3] if n % 2 else "زن"),
                                ("born", "1365/02/11" if n % 11 else "bad"), ("birth", "1365/02/11"),
                                ("zip", "9187654321" if n % 7 else "1111111111"), ("REGION", "منطقه ۹"),
                                ("addr", {"line": "کوچه ۱"} if n % 3 else None)):
                columns[name].append(value)
        dicts = [Batch([dict(zip(columns, values)) for values in zip(*columns.values())][i:i + 40],
                       cursor={"n": i}, where=f"batch {i}") for i in range(0, 120, 40)]
        rows = [Batch(Rows({k: tuple(v[i:i + 40]) for k, v in columns.items()}, 40), cursor={"n": i},
                      where=f"batch {i}") for i in range(0, 120, 40)]
        assert [list(b.records) for b in rows] == [b.records for b in dicts]
        by_dicts, _ = begin_load(engine, contract)
        by_rows, _ = begin_load(engine, contract)
        a = stage_batches(engine, contract, by_dicts, named_as_contract(contract, dicts), check)
        b = stage_batches(engine, contract, by_rows, named_as_contract(contract, rows), check)
        assert (a.rows_in, a.staged, a.quarantined, a.set_aside) == (b.rows_in, b.staged, b.quarantined, b.set_aside)
        assert a.staged and a.quarantined
        assert _staged(engine, by_dicts) == _staged(engine, by_rows)


COLUMN_VALUES = st.lists(st.sampled_from(
    ["0012345679", _nid("100015152"), _nid("987654321"), "1111111111", "0012345678", "001234567", "۰۰۱۲۳۴۵۶۷۹",
     "09151234567", "09121234567", "09001234567", "9151234567", "0915123456", "۰۹۱۵۱۲۳۴۵۶۷", "051-38001234",
     "9187654321", "1187654321", "9087654321", "9127654321", "8888888888", "91876 54321",
     "منطقه ۹", "مشهد، خیابان امام رضا، کوچه 20", "علي", "a  b", " a", "a ", "x\u200cy", "\u200c", "e\u0301", "é",
     "ﻙ", "a\tb", "a\x00b", "", " "]), min_size=1, max_size=6)


@hsettings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(values=COLUMN_VALUES)
def test_a_column_reader_reads_as_its_transform_reads_each_value(values):
    """A transform's column reader (ids, mobiles, postal codes, text as registries write them)
    gives exactly what its reader gives value by value, or None; and a format's column check
    says what the value check says of every value."""
    from munihub.contracts import formats
    from munihub.persian.transforms import COLUMN_PROVES, column_reader

    for spec in ("national_id", "mobile", "mobile:51", "phone", "postal_code", "text"):
        read_column, read = column_reader(spec), reader(spec)
        got = read_column(values)
        if got is None:
            continue
        assert got == [read(v) for v in values], spec
        proven = COLUMN_PROVES.get(spec.partition(":")[0])
        assert proven is None or all(map(formats.FORMATS[proven], got)), spec  # (not judged by it again)
    for name, column in formats.COLUMN_FORMATS.items():
        assert column(values) == all(map(formats.FORMATS[name], values)), name
    clean = [_nid("100015152"), _nid("987654321")]
    assert column_reader("national_id")(clean) == clean and column_reader("postal_code")(["9187654321"]) == ["9187654321"]
    assert column_reader("mobile:51")(["09151234567"]) == ["+989151234567"]
    assert column_reader("text")(["منطقه 9", "کوچه 20"]) == ["منطقه 9", "کوچه 20"]
