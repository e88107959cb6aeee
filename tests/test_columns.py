"""`resolve.columns.feature_table` gives every record the features `match.features` gives it
(the same keys, values and key order), from columns transformed once per distinct value."""
from __future__ import annotations

from collections import Counter

from munihub.resolve import columns, match

RECORDS = [
    {"ref": "b|2", "fields": {"first_name": "علی", "last_name": "احمدی", "national_id": " 0012345679 ",
                              "postal_code": 9187654321, "address": {"detail": "مشهد، کوچه ۴", "district": "9"}}},
    {"ref": "a|1", "fields": {"full_name": "آقای علی احمدی", "mobile": "+989150000001",
                              "address": {"postal_code": "9187654321", "detail": "مشهد، کوچه ۴"}}},
    {"ref": "a|3", "fields": {"first_name": "  ", "last_name": "کریمی", "birth_date": True, "gender": 1}},
    {"ref": "c|9", "fields": {"first_name": "علی", "last_name": None, "mobile": "", "birth_date": 1}},
    {"ref": "c|1", "fields": {}},
    {"ref": "c|2", "fields": None},
    {"ref": "c|3", "fields": {"last_name": "کریمی", "full_name": "زهرا کریمی", "birth_date": "1960-01-01"}},
]


def test_rows_are_match_features_in_the_same_key_order():
    conf = match.settings_for("person")
    table = columns.feature_table(RECORDS, conf)
    assert table.refs == sorted(r["ref"] for r in RECORDS)
    for rec in RECORDS:
        want = match.features(rec, None, conf)
        assert list(table[rec["ref"]].items()) == list(want.items())
    assert table["a|1"]["postal_code"] == "9187654321"  # the second path, the first being absent
    assert table["a|3"]["birth_date"] == "true" and table["c|9"]["birth_date"] == "1"  # True is not 1
    assert "x|0" not in table and len(table) == len(RECORDS) and dict(table) == {
        r["ref"]: match.features(r, None, conf) for r in RECORDS}


def test_counts_and_prepare():
    conf = match.settings_for("person")
    stored = [{"ref": r["ref"], "raw": r["fields"]} for r in RECORDS]
    table = columns.feature_table(stored, conf, prepare=lambda r: {**r, "fields": r["raw"]})
    assert dict(table) == {r["ref"]: match.features(r, None, conf) for r in RECORDS}
    assert table.counts("first_key") == Counter(match.features(r, None, conf).get("first_key") for r in RECORDS)


def test_many_workers_transform_alike(monkeypatch):
    from munihub.resolve import vectorized

    monkeypatch.setattr(vectorized, "FEATURES_PER_WORKER", 1)
    many = [{"ref": f"s|{i:03d}", "fields": {"first_name": f"نام{i % 7}", "last_name": f"فامیل {i}",
                                               "address": f"خیابان {i % 5}"}} for i in range(200)]
    slot = vectorized.build_index(many, "person", processes=2)
    conf = match.settings_for("person")
    assert dict(slot["features"]) == {r["ref"]: match.features(r, None, conf) for r in many}


def test_chunks_give_the_same_table(monkeypatch):
    """Records read a few at a time (values met again in a later chunk keep their code)."""
    conf = match.settings_for("person")
    whole = columns.feature_table(RECORDS * 1, conf)
    monkeypatch.setattr(columns, "CHUNK", 2)
    stored = [{"ref": r["ref"], "raw": r["fields"]} for r in RECORDS]
    parts = columns.feature_table(stored, conf, prepare=lambda r: {**r, "fields": r["raw"]})
    assert dict(parts) == dict(whole) and len(parts.values) == len(whole.values)
