"""A record that states no gender has its first name's when the name is given to one gender
only: «خانم طباطبایی» calling from the mobile of «کاظم طباطبایی» (his daughter, his sister)
is not him (docs/resolution.md, "Households and reused numbers")."""
from __future__ import annotations

import datetime as dt

from munihub import store
from munihub.persian import first_name_genders
from munihub.resolve import match
from munihub.resolve.columns import feature_table
from munihub.resolve.run import resolve_all

from test_resolve_id_typos import _entities

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
MOBILE = "+989353890471"
HOME = {"street": "سناباد", "alley": "28", "district": "7", "detail": "سناباد ۲۸ پلاک ۴"}


def test_first_names_given_to_one_gender_say_it_and_names_given_to_both_say_nothing():
    genders = first_name_genders()
    assert genders["کاظم"] == genders["محمدرضا"] == "male" and genders["فاطمه"] == genders["ریحانه"] == "female"
    assert "نصرت" not in genders  # a name given to both
    conf = match.settings_for("person", None)
    rows = [{"ref": "a", "fields": {"first_name": "كاظم", "last_name": "طباطبایی"}},   # Arabic ك
            {"ref": "b", "fields": {"first_name": "کاظم", "gender": "female"}},          # stated wins
            {"ref": "c", "fields": {"first_name": "نصرت", "last_name": "نوری"}},
            {"ref": "d", "fields": {"last_name": "نوری"}}]
    feats = {r["ref"]: match.features(r, conf=conf) for r in rows}
    assert feats["a"]["gender"] == "male" and feats["b"]["gender"] == "female"
    assert "gender" not in feats["c"] and "gender" not in feats["d"]
    table = feature_table([{**r, "entity_type": "person"} for r in rows], conf)
    for ref, f in feats.items():  # the vectorized path gives the same features, in the same order
        assert list(table[ref].items()) == list(f.items())


def test_a_caller_titled_as_a_woman_on_a_mans_mobile_is_not_him(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    taxpayer = {"national_id": "7549762422", "first_name": "کاظم", "last_name": "طباطبایی", "mobile": MOBILE,
                "birth_date": "1982-04-12", "address": HOME}
    calls = {"C1": "خانم طباطبایی", "C2": "آقای طباطبایی"}
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert().values(
            source="tax.taxpayers", source_key="T1", entity_type="person", record=taxpayer,
            record_hash=store.record_hash(taxpayer), first_load_id="L1", load_id="L1", updated_at=T0))
        for code, name in calls.items():
            call = {"tracking_code": code, "citizen_name": name, "mobile": MOBILE, "category": "روشنایی",
                    "address": HOME, "district": "7", "filed_at": "2024-01-02T10:00:00+00:00"}
            conn.execute(store.source_rows.insert().values(
                source="rc137.calls", source_key=code, entity_type="service_request", record=call,
                record_hash=store.record_hash(call), first_load_id="L1", load_id="L1", updated_at=T0))
    resolve_all(engine)
    ids = _entities(engine)
    assert ids["rc137.calls|C2#person"] == ids["tax.taxpayers|T1"]  # the man on his own mobile
    assert ids["rc137.calls|C1#person"] != ids["tax.taxpayers|T1"]
