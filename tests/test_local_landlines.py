"""A landline given without its city code (a contract writing `transformLogic: phone` with no
city code, an export writing «۳۸۴۱۲۳۴۵») is set aside at publish, and still says which home a
record is of: matching compares landlines by their last eight digits (`match.landline_key`,
`records.PHONE_LOCAL`), never shown as a person's value (docs/resolution.md)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.resolve.match import landline_key
from munihub.resolve.records import PHONE_LOCAL, load_match_records
from munihub.resolve.run import resolve_all

from test_pipeline import national_id

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: welfare.clients
name: clients
version: 1.0.0
status: active
servers:
  - server: drop
    type: local
    path: "{folder}"
    format: csv
    customProperties:
      - {{property: connector, value: file}}
      - {{property: pattern, value: "*.csv"}}
schema:
  - name: clients
    physicalName: clients
    customProperties:
      - {{property: sharedSchema, value: person}}
      - {{property: recordId, value: "شماره پرونده"}}
    properties:
      - {{name: full_name, physicalName: "نام", logicalType: string, transformLogic: person_name}}
      - {{name: phone, physicalName: "تلفن", logicalType: string, transformLogic: phone}}
customProperties:
  - {{property: retries, value: 0}}
"""


def _city(tmp_path):
    """Two registry namesakes «حسین کاظمی» at two homes, and a welfare client «حسین کاظمی»
    whose landline, the first home's, came without its city code."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "clients.csv").write_text("شماره پرونده,نام,تلفن\nW1,حسین کاظمی,۳۸۴۱۲۳۴۵\n", "utf-8")
    (tmp_path / "contracts" / "welfare").mkdir(parents=True)
    (tmp_path / "contracts" / "welfare" / "clients.yaml").write_text(CONTRACT.format(folder=drop.as_posix()), "utf-8")
    settings = Settings(home=tmp_path / "home", store_url=f"sqlite:///{tmp_path / 'store.db'}",
                        contracts_dir=tmp_path / "contracts", schemas_dir=REPO_ROOT / "schemas")
    result = pipeline.sync_source("welfare.clients", settings)
    engine = store.engine_for(settings)
    rows = [("R1", {"national_id": national_id("093155305"), "first_name": "حسین", "last_name": "کاظمی",
                    "birth_date": "1970-01-02", "phone": "+985138412345"}),
            ("R2", {"national_id": national_id("094548120"), "first_name": "حسین", "last_name": "کاظمی",
                    "birth_date": "1985-03-04", "phone": "+985137654321"})]
    with engine.begin() as conn:
        for key, record in rows:
            conn.execute(store.source_rows.insert().values(
                source="registry.citizens", source_key=key, entity_type="person", record=record,
                record_hash=store.record_hash(record), first_load_id="L1", load_id="L1", updated_at=T0))
    return result, engine


def test_a_landline_without_its_city_code_is_set_aside_and_still_names_the_home(tmp_path):
    result, engine = _city(tmp_path)
    assert result["rows_quarantined"] == 0 and result["rows_new"] == 1
    with engine.connect() as conn:
        aside = [(a.source_key, a.field, a.rule) for a in conn.execute(sa.select(store.set_aside))]
    assert aside == [("W1", "phone", "transform:phone")]
    client = next(r for r in load_match_records(engine)["person"] if r["ref"] == "welfare.clients|W1")
    assert client["fields"][PHONE_LOCAL] == "38412345" and "phone" not in client["fields"]
    resolve_all(engine)
    m = store.entity_members
    with engine.connect() as conn:
        ids = {k: e for k, e in conn.execute(sa.select(m.c.source_key, m.c.entity_id))}
        goldens = [g for (g,) in conn.execute(sa.select(store.entities.c.golden))]
    assert ids["W1"] == ids["R1"] != ids["R2"]
    assert not any(PHONE_LOCAL in str(g) or "38412345" == g.get("phone") for g in goldens)


def test_a_dismissed_local_landline_is_no_evidence(tmp_path):
    _, engine = _city(tmp_path)
    with engine.begin() as conn:
        conn.execute(store.set_aside.update().values(status="dismissed"))
    client = next(r for r in load_match_records(engine)["person"] if r["ref"] == "welfare.clients|W1")
    assert PHONE_LOCAL not in client["fields"]


def test_landlines_are_keyed_by_their_last_eight_digits_and_mobiles_whole():
    assert landline_key("+985138412345") == landline_key("38412345") == "38412345"
    assert landline_key("+982188412345") == "88412345"
    assert landline_key("+989151234567") == "+989151234567"  # a mobile in a phone field
    assert landline_key(None) is None and landline_key(" ") is None
