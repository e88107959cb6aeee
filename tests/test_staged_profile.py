"""What staging counts of a load for its dataset checks (`loads.staged_profile`: rows, each
field's nulls, the key field's object values) is what the checks' SQL pass over staged_rows
reads, on SQLite and PostgreSQL: for records of every shape (`stage._count_record`), and for
loads staged through `stage_batches` with slow-path, quarantined and repeated-key records
(`tests/test_columnar.py`, which also holds the column path's absent-field masks to the
records)."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from munihub import store
from munihub.ingest.quality_measure import StagedColumns
from munihub.ingest.stage import _count_record

VALUES = st.sampled_from(["a", "", " ", "علی", 1, 0, 1.5, True, False, None, float("nan"), float("inf"), [], {},
                          [1, None], {"x": None}])
RECORD = st.fixed_dictionaries({}, optional={
    "a": VALUES, "k": VALUES | st.sampled_from([{"p": 1}, [1, "x"]]),
    "n": VALUES | st.fixed_dictionaries({}, optional={"c": VALUES, "d": VALUES}) | st.sampled_from([[{"c": 1}]])})
FIELDS = ["a", "k", "n", "n.c", "n.d", "gone"]


@pytest.fixture
def engine(store_url):
    return store.open_store(store_url)


def figures(columns: StagedColumns) -> tuple:
    return columns.total, columns.nulls(FIELDS), columns._key_objects


def test_the_profile_counted_in_the_hub_is_what_the_sql_pass_reads(engine):
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(RECORD, max_size=25), st.sampled_from(["k", "n", None]))
    @example([{"k": {"p": 1}, "n": [{"c": 1}], "a": float("nan")}, {"n": {"c": None}}, {}], "k")
    def agree(records, key):
        load_id = uuid.uuid4().hex
        profile = {"rows": len(records), "nulls": dict.fromkeys(FIELDS, 0), "key": key, "key_objects": 0}
        for record in records:
            _count_record(profile, record)
        rows = [(load_id, i + 1, str(i), store.encode_json(r), store.record_hash(r), None)
                for i, r in enumerate(records)]
        with engine.begin() as conn:
            store.bulk_copy(conn, store.staged_rows, ["load_id", "seq", "source_key", "record", "record_hash",
                                                      "position"], rows)
        in_sql = StagedColumns(engine, load_id, key, FIELDS)
        counted = StagedColumns(engine, load_id, key, FIELDS, profile=profile)
        assert figures(counted) == figures(in_sql), records
    agree()


def test_a_profile_without_a_field_or_of_another_key_is_not_used(engine):
    load_id = uuid.uuid4().hex
    with engine.begin() as conn:
        store.bulk_copy(conn, store.staged_rows, ["load_id", "seq", "source_key", "record", "record_hash", "position"],
                        [(load_id, 1, "1", '{"a": 1}', "h", None)])
    wrong = {"rows": 7, "nulls": {"a": 5}, "key": "a", "key_objects": 3}
    assert StagedColumns(engine, load_id, None, ["a"], profile=wrong).total == 7  # used: every field in it
    assert StagedColumns(engine, load_id, None, ["a", "b"], profile=wrong).total == 1  # a field missing: SQL
    other_key = StagedColumns(engine, load_id, "b", ["a"], profile=wrong)
    assert other_key.total == (1 if engine.dialect.name == "postgresql" else 7)  # the key's objects: PostgreSQL
